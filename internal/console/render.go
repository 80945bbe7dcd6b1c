package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// view is what every page's template gets: the page's own data and the request's context.
type view struct {
	Lang     string
	User     string
	Role     string
	CSRF     string
	Path     string // the request's path and query, for the language switch
	LangURL  string // this page in the other language
	Title    string
	Page     any
	Location *time.Location
}

// pageNames are the templates in templates/, each rendered inside layout.html.
var pageNames = []string{"signin", "error", "dashboard", "alerts", "alert", "account", "campaigns", "campaign", "audit", "watchlist", "held", "moving"}

func parsePages() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		b, err := fs.ReadFile(templateFiles, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("console: layout: %w", err)
		}
		if _, err := t.New(name).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// funcs are the templates' helpers. Those that need the language or the zone take the view (.).
var funcs = template.FuncMap{
	"t": func(v *view, key string, args ...any) string { return tr(v.Lang, key, args...) },
	"tm": func(v *view, t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(v.Location).Format("2006-01-02 15:04:05 MST")
	},
	"tshort": func(v *view, t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(v.Location).Format("01-02 15:04")
	},
	"num": func(n any) string {
		switch x := n.(type) {
		case int:
			return group(int64(x))
		case int64:
			return group(x)
		case float64:
			return group(int64(x))
		}
		return fmt.Sprint(n)
	},
	"yen": func(f float64) string {
		if f == 0 {
			return "-"
		}
		if f == float64(int64(f)) {
			return "¥" + group(int64(f))
		}
		return "¥" + strconv.FormatFloat(f, 'f', 1, 64)
	},
	"q":       url.QueryEscape,
	"path":    url.PathEscape,
	"join":    strings.Join,
	"reasonT": func(v *view, code string) string { return reasonWords(v.Lang, code) },
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// lang picks the page's language: ?lang= (remembered in a cookie), the cookie, then Accept-Language.
func lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "ja" || l == "en" {
		http.SetCookie(w, &http.Cookie{Name: "bg_lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		return l
	}
	return pageLang(r)
}

// pageLang is lang without remembering the choice: for the words a handler puts in its charts.
func pageLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "ja" || l == "en" {
		return l
	}
	if ck, err := r.Cookie("bg_lang"); err == nil && (ck.Value == "ja" || ck.Value == "en") {
		return ck.Value
	}
	return fromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// fromAcceptLanguage returns ja or en, whichever the header prefers (q values honoured); en by default.
func fromAcceptLanguage(h string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if (base == "ja" || base == "en") && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

// render writes page name with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, page any) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no page %q", name)
	}
	v := &view{Lang: lang(w, r), Path: r.URL.Path, Page: page, Location: c.o.Location}
	q := r.URL.Query()
	q.Del("lang")
	other := "ja"
	if v.Lang == "ja" {
		other = "en"
	}
	q.Set("lang", other)
	v.LangURL = r.URL.Path + "?" + q.Encode()
	if s != nil {
		v.User, v.Role, v.CSRF = s.user.Name, s.user.Role, s.csrf
	}
	v.Title = tr(v.Lang, "title_"+name)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

type errorPage struct {
	Status       int
	Code, Detail string
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, code string) {
	c.renderErrorDetail(w, r, s, status, code, "")
}

func (c *Console) renderErrorDetail(w http.ResponseWriter, r *http.Request, s *session, status int, code, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	if err := c.render(w, r, s, status, "error", errorPage{status, code, detail}); err != nil {
		http.Error(w, http.StatusText(status), status)
	}
}
