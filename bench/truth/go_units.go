// Functions and methods with a body in Go files, by the standard library's own parser (go/parser).
// Prints {"path": [{"name", "owner", "start", "end"}]} as JSON; start is the line of the func keyword.
package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
)

type unit struct {
	Name  string `json:"name"`
	Owner string `json:"owner"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

func receiverType(expr ast.Expr) string {
	switch t := expr.(type) {
	case *ast.StarExpr:
		return receiverType(t.X)
	case *ast.IndexExpr:
		return receiverType(t.X)
	case *ast.IndexListExpr:
		return receiverType(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}

func main() {
	out := map[string][]unit{}
	for _, path := range os.Args[1:] {
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		units := []unit{}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			owner := ""
			if fn.Recv != nil && len(fn.Recv.List) > 0 {
				owner = receiverType(fn.Recv.List[0].Type)
			}
			units = append(units, unit{fn.Name.Name, owner, fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line})
		}
		out[path] = units
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
