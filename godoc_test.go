package raft

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// TestExportedIdentifiersDocumented keeps the godoc complete (issue 9):
// every exported identifier of the packages listed below must carry a doc
// comment. It counts as documented when:
//
//   - a type, function or method (on an exported receiver type) has a doc
//     comment;
//   - a const or var has a doc comment or a line comment of its own, or is
//     in a parenthesised block that has a doc comment (godoc shows the
//     block's comment above all of its members, so a comment such as
//     "Defaults applied to zero-valued Config fields" documents every one of
//     them; a block without one needs a comment on every exported member);
//   - a field of an exported struct type, or a method of an exported
//     interface type, has a doc comment or a line comment (names declared
//     together, as in "A, B int", share it).
//
// Methods of unexported types, fields of unexported types and test files
// are not checked: godoc does not show them.
func TestExportedIdentifiersDocumented(t *testing.T) {
	for _, dir := range []string{".", "raftsim"} {
		for _, miss := range undocumented(t, dir) {
			t.Errorf("%s: exported %s has no doc comment", dir, miss)
		}
	}
}

// undocumented lists the exported identifiers of the package in dir that
// lack a doc comment, as "kind Name (file:line)".
func undocumented(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	notTest := func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }
	pkgs, err := parser.ParseDir(fset, dir, notTest, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 {
		t.Fatalf("%s: want one package, found %d", dir, len(pkgs))
	}
	var missing []string
	flag := func(kind, name string, pos token.Pos) {
		p := fset.Position(pos)
		missing = append(missing, fmt.Sprintf("%s %s (%s:%d)", kind, name, p.Filename, p.Line))
	}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.FuncDecl:
					checkFunc(d, flag)
				case *ast.GenDecl:
					checkGenDecl(d, flag)
				}
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// hasText reports whether any of the comment groups holds text (directives
// such as //go:generate are not text).
func hasText(groups ...*ast.CommentGroup) bool {
	for _, g := range groups {
		if g != nil && strings.TrimSpace(g.Text()) != "" {
			return true
		}
	}
	return false
}

func checkFunc(d *ast.FuncDecl, flag func(kind, name string, pos token.Pos)) {
	if !d.Name.IsExported() || hasText(d.Doc) {
		return
	}
	if d.Recv == nil {
		flag("func", d.Name.Name, d.Pos())
		return
	}
	recv := receiverType(d.Recv.List[0].Type)
	if ast.IsExported(recv) {
		flag("method", recv+"."+d.Name.Name, d.Pos())
	}
}

// receiverType names a method's receiver type: T for T, *T, T[P] or *T[P].
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

func checkGenDecl(d *ast.GenDecl, flag func(kind, name string, pos token.Pos)) {
	for _, spec := range d.Specs {
		switch s := spec.(type) {
		case *ast.TypeSpec:
			if !s.Name.IsExported() {
				continue
			}
			// A lone "type T ..." keeps its comment on the GenDecl.
			if !hasText(s.Doc, s.Comment) && !(d.Lparen == token.NoPos && hasText(d.Doc)) {
				flag("type", s.Name.Name, s.Pos())
			}
			checkTypeBody(s.Name.Name, s.Type, flag)
		case *ast.ValueSpec:
			kind := "var"
			if d.Tok == token.CONST {
				kind = "const"
			}
			for _, name := range s.Names {
				if name.IsExported() && !hasText(s.Doc, s.Comment, d.Doc) {
					flag(kind, name.Name, name.Pos())
				}
			}
		}
	}
}

// checkTypeBody checks the fields of a struct type and the methods of an
// interface type.
func checkTypeBody(typeName string, e ast.Expr, flag func(kind, name string, pos token.Pos)) {
	var fields *ast.FieldList
	kind := "field"
	switch x := e.(type) {
	case *ast.StructType:
		fields = x.Fields
	case *ast.InterfaceType:
		fields, kind = x.Methods, "interface method"
	default:
		return
	}
	for _, fld := range fields.List {
		names := fld.Names
		if len(names) == 0 { // embedded: named by its type
			if n := receiverType(fld.Type); n != "" {
				names = []*ast.Ident{ast.NewIdent(n)}
				names[0].NamePos = fld.Pos()
			}
		}
		for _, name := range names {
			if name.IsExported() && !hasText(fld.Doc, fld.Comment) {
				flag(kind, typeName+"."+name.Name, name.Pos())
			}
		}
	}
}
