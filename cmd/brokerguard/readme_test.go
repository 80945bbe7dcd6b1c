package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestREADME runs README.md as a new user would: every ```sh block, in order, in a scratch copy of the
// repository's test data, against a fresh build of brokerguard, with testscript (rogpeppe/go-internal)
// as the harness and bash as the shell. The README is turned into one script (readmeScript):
//   - `go run ./cmd/brokerguard` becomes the fresh binary, `127.0.0.1:8080` a free port (BG_PORT);
//   - `go test` lines are left out (this test is what they run);
//   - `brokerguard demo` and `brokerguard serve` start in the background (a running one is stopped
//     first) and the script waits until /readyz answers;
//   - a block preceded by `<!-- readme-test: skip (why) -->` is not run;
//   - an HTML comment `<!-- readme-test` … `-->` after a block holds testscript assertions on what the
//     block printed (stdout, grep FILE, exec jq -e …).
//
// Shell variables set in one block (KEY=…) carry over to the next.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("the README walkthrough runs the demo")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, fmt.Sprintf("the README's commands need %s (%v)", tool, err))
		}
	}
	if _, err := os.Stat("../../../shared/ipdata"); err != nil {
		missing(t, "the README's commands read ../shared/ipdata beside the repository")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	script, err := readmeScript(string(readme), port)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		TestWork:            os.Getenv("BROKERGUARD_README_KEEP") != "",
		Setup: func(env *testscript.Env) error {
			// The scratch checkout: what the README's commands read, and shared/ beside it.
			co := filepath.Join(env.WorkDir, "brokerguard")
			for _, d := range []string{"testdata", "internal/compensation/testdata"} {
				if err := copyTree(filepath.Join(repo, d), filepath.Join(co, d)); err != nil {
					return err
				}
			}
			if shared, err := filepath.Abs(filepath.Join(repo, "..", "shared")); err == nil {
				if _, err := os.Stat(shared); err == nil {
					if err := os.Symlink(shared, filepath.Join(env.WorkDir, "shared")); err != nil {
						return err
					}
				}
			}
			for _, f := range env.Vars {
				if strings.HasPrefix(f, "PATH=") {
					env.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+strings.TrimPrefix(f, "PATH="))
				}
			}
			env.Setenv("BG_PORT", port)
			env.Setenv("BG_STATE", filepath.Join(env.WorkDir, ".readme-env"))
			env.Cd = co
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// readyz waits until the server on BG_PORT answers /readyz, or fails with its log.
			"readyz": func(ts *testscript.TestScript, neg bool, args []string) {
				url := "http://127.0.0.1:" + ts.Getenv("BG_PORT") + "/readyz"
				deadline := time.Now().Add(5 * time.Minute)
				for time.Now().Before(deadline) {
					if resp, err := http.Get(url); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							return
						}
					}
					time.Sleep(200 * time.Millisecond)
				}
				log, _ := os.ReadFile(ts.MkAbs(args[0]))
				ts.Fatalf("the server did not become ready in 5 minutes; its output:\n%s", log)
			},
		},
	})
}

// missing skips the test for what a machine lacks, and fails it under CI (CI=true), where .ci/run
// installs it.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(what)
	}
	t.Skip(what + "; skipped (CI=true makes it a failure)")
}

// readmeScript turns the README into a testscript archive (see TestREADME).
func readmeScript(readme, port string) (string, error) {
	var (
		script  strings.Builder
		files   strings.Builder
		blocks  int
		servers int
		serving bool
	)
	lines := strings.Split(readme, "\n")
	skip := false
	emit := func(name string, cmds []string) {
		fmt.Fprintf(&files, "-- %s --\nset -euo pipefail\nset -a\n[ -f \"$BG_STATE\" ] && . \"$BG_STATE\"\n%s\nexport -p > \"$BG_STATE\"\n",
			name, strings.Join(cmds, "\n"))
		fmt.Fprintf(&script, "exec bash $WORK/%s\n", name)
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "<!-- readme-test: skip") {
			skip = true
			continue
		}
		if line != "```sh" {
			if line != "" && !strings.HasPrefix(line, "<!--") {
				skip = false
			}
			continue
		}
		// A command block: gather its commands, joining continued lines.
		var cmds []string
		cont := ""
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			if c, ok := strings.CutSuffix(strings.TrimRight(l, " "), "\\"); ok {
				cont += c + " "
				continue
			}
			cmds = append(cmds, cont+l)
			cont = ""
		}
		if i == len(lines) {
			return "", fmt.Errorf("README line %d: a ```sh block is not closed", i)
		}
		blocks++
		fmt.Fprintf(&script, "\n# README block %d (line %d)\n", blocks, i)
		if skip {
			fmt.Fprintf(&script, "# not run: marked readme-test: skip\n")
			skip = false
			continue
		}
		var pending []string
		part := 0
		flush := func() {
			if len(pending) > 0 {
				part++
				emit(fmt.Sprintf("block%d-%d.sh", blocks, part), pending)
				pending = nil
			}
		}
		for _, c := range cmds {
			c = strings.ReplaceAll(c, "go run ./cmd/brokerguard", "brokerguard")
			c = strings.ReplaceAll(c, "127.0.0.1:8080", "127.0.0.1:"+port)
			cmd := strings.TrimSpace(stripComment(c))
			if cmd == "" || strings.HasPrefix(cmd, "go test") {
				continue
			}
			if strings.HasPrefix(cmd, "brokerguard demo") || strings.HasPrefix(cmd, "brokerguard serve") {
				flush()
				if serving {
					script.WriteString("kill -INT srv\nwait srv\n")
				}
				servers++
				name := fmt.Sprintf("server%d.sh", servers)
				logf := fmt.Sprintf("server%d.log", servers)
				fmt.Fprintf(&files, "-- %s --\nexec %s --listen 127.0.0.1:%s >%s 2>&1\n", name, cmd, port, logf)
				fmt.Fprintf(&script, "exec bash $WORK/%s &srv&\nreadyz %s\n", name, logf)
				serving = true
				continue
			}
			pending = append(pending, c)
		}
		flush()
		// Assertions on the block's output.
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j < len(lines) && strings.TrimSpace(lines[j]) == "<!-- readme-test" {
			for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "-->"; j++ {
				script.WriteString(lines[j] + "\n")
			}
			i = j
		}
	}
	if serving {
		script.WriteString("\nkill -INT srv\nwait srv\n")
	}
	return script.String() + "\n" + files.String(), nil
}

var trailingComment = regexp.MustCompile(`\s+#\s[^'"]*$`)

// stripComment drops a trailing shell comment (one not inside quotes), for recognising commands.
func stripComment(c string) string {
	if strings.HasPrefix(strings.TrimSpace(c), "#") {
		return ""
	}
	return trailingComment.ReplaceAllString(c, "")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, bufio.NewReader(in)); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
