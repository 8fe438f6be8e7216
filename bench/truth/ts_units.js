// Functions and methods in JavaScript/TypeScript files, by the TypeScript compiler's own parser.
// Units: module-level function declarations with a body; module-level const/let/var bound to a function or
// arrow expression; in module-level classes, methods, accessors and constructors with a body, and fields
// initialized with a function or arrow expression. Nested functions belong to the code that holds them.
// Usage: node ts_units.js TYPESCRIPT_MODULE_DIR file...  Prints {"path": [{"name", "owner", "start", "end"}]}.
const ts = require(process.argv[2]);
const fs = require("fs");

function units(path) {
  const text = fs.readFileSync(path, "utf8");
  const kind = path.endsWith(".tsx") ? ts.ScriptKind.TSX : path.endsWith(".ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, kind);
  const line = (pos) => file.getLineAndCharacterOfPosition(pos).line + 1;
  const isFunctionValue = (node) => node && (ts.isArrowFunction(node) || ts.isFunctionExpression(node));
  const out = [];
  const add = (name, owner, node) => out.push({ name, owner, start: line(node.getStart(file)), end: line(node.end) });
  for (const statement of file.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.body) {
      add(statement.name ? statement.name.text : "", "", statement);
    } else if (ts.isVariableStatement(statement)) {
      // A statement with one declarator is the unit as written (its `;` included); several share one statement.
      const declarations = statement.declarationList.declarations;
      for (const declaration of declarations) {
        if (isFunctionValue(declaration.initializer) && ts.isIdentifier(declaration.name)) {
          add(declaration.name.text, "", declarations.length === 1 ? statement : declaration);
        }
      }
    } else if (ts.isClassDeclaration(statement)) {
      const owner = statement.name ? statement.name.text : "";
      for (const member of statement.members) {
        const name = member.name ? member.name.getText(file) : "constructor";
        if ((ts.isMethodDeclaration(member) || ts.isConstructorDeclaration(member) || ts.isGetAccessor(member)
             || ts.isSetAccessor(member)) && member.body) {
          add(name, owner, member);
        } else if (ts.isPropertyDeclaration(member) && isFunctionValue(member.initializer)) {
          add(name, owner, member);
        }
      }
    }
  }
  return out;
}

const result = {};
for (const path of process.argv.slice(3)) result[path] = units(path);
console.log(JSON.stringify(result));
