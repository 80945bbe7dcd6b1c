package detect

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTakeoverSignsHaveOneHome walks the module's source and fails when a package other than detect
// writes its own list of takeover signs: a slice, or a map to bool or struct{}, naming three or more of
// them (a table that carries something per code, as the console's words do, is not a list). Backfill,
// incident evidence and evaluation read detect.TakeoverSigns / detect.IsTakeoverSign instead, so that
// what the live engine counts as a takeover, what backfill proposes and what an incident shows agree.
func TestTakeoverSignsHaveOneHome(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.Abs(".")
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".") && path != root || path == self {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			// A table keyed by reason code that carries something per code (words for the console)
			// describes codes; a slice, or a map to bool or struct{}, selects them.
			if m, ok := lit.Type.(*ast.MapType); ok {
				_, isStruct := m.Value.(*ast.StructType)
				if id, ok := m.Value.(*ast.Ident); !(ok && id.Name == "bool") && !isStruct {
					return true
				}
			}
			var named []string
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					el = kv.Key
				}
				if bl, ok := el.(*ast.BasicLit); ok && bl.Kind == token.STRING {
					if s, err := strconv.Unquote(bl.Value); err == nil && IsTakeoverSign(s) {
						named = append(named, s)
					}
				}
			}
			if len(named) >= 3 {
				t.Errorf("%s: a list of takeover signs of its own (%s); use detect.TakeoverSigns or detect.IsTakeoverSign",
					fset.Position(lit.Pos()).String()[len(root)+1:], strings.Join(named, ", "))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked %d source files, want the whole module", checked)
	}
}

// TestTakeoverSignsFollowTheEngine checks that the exported list holds exactly the signals the engine
// counts as takeover signs, then the composite codes, each once.
func TestTakeoverSignsFollowTheEngine(t *testing.T) {
	got := TakeoverSigns()
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c] {
			t.Errorf("%s listed twice", c)
		}
		seen[c] = true
	}
	for s := Signal(0); s < NumSignals; s++ {
		want := takeoverSigns&(1<<s) != 0
		if IsTakeoverSign(s.String()) != want {
			t.Errorf("IsTakeoverSign(%s) = %v, want %v (the engine's takeoverSigns)", s, !want, want)
		}
	}
	for _, c := range []string{"LIQUIDATION", "ILLIQUID_SYMBOL", "UNUSUAL_HOUR", ""} {
		if IsTakeoverSign(c) {
			t.Errorf("IsTakeoverSign(%q) = true, want false", c)
		}
	}
	got[0] = "CHANGED"
	if TakeoverSigns()[0] == "CHANGED" {
		t.Error("TakeoverSigns returns the package's own slice; callers could change it")
	}
}
