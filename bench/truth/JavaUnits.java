// Methods and constructors with a body in Java files, by javac's own parser (the com.sun.source tree API).
// Walks top-level types and the types nested in their bodies; local and anonymous classes (inside method
// bodies or enum constant bodies) are part of the code that holds them. Prints one JSON object per file.
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.LineMap;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.JavacTask;
import com.sun.source.util.SourcePositions;
import com.sun.source.util.Trees;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

public class JavaUnits {
    public static void main(String[] args) throws Exception {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        StandardJavaFileManager files = compiler.getStandardFileManager(null, null, null);
        StringBuilder json = new StringBuilder("{");
        for (int i = 0; i < args.length; i++) {
            JavacTask task = (JavacTask) compiler.getTask(
                null, files, null, List.of("-proc:none"), null, files.getJavaFileObjects(args[i]));
            SourcePositions positions = Trees.instance(task).getSourcePositions();
            List<String> units = new ArrayList<>();
            for (CompilationUnitTree unit : task.parse()) {
                for (Tree type : unit.getTypeDecls()) {
                    if (type instanceof ClassTree cls) {
                        visit(cls, "", unit, positions, units);
                    }
                }
            }
            json.append(i == 0 ? "" : ",").append(quote(args[i])).append(":[").append(String.join(",", units)).append("]");
        }
        System.out.println(json.append("}"));
    }

    static void visit(ClassTree cls, String prefix, CompilationUnitTree unit, SourcePositions positions, List<String> out) {
        String name = cls.getSimpleName().toString();
        String qualified = prefix.isEmpty() ? name : prefix + "." + name;
        LineMap lines = unit.getLineMap();
        for (Tree member : cls.getMembers()) {
            if (member instanceof MethodTree method && method.getBody() != null) {
                String methodName = method.getName().contentEquals("<init>") ? name : method.getName().toString();
                long start = lines.getLineNumber(positions.getStartPosition(unit, method));
                long end = lines.getLineNumber(positions.getEndPosition(unit, method));
                out.add("{\"name\":" + quote(methodName) + ",\"owner\":" + quote(qualified)
                    + ",\"start\":" + start + ",\"end\":" + end + "}");
            } else if (member instanceof ClassTree nested) {
                visit(nested, qualified, unit, positions, out);
            }
        }
    }

    static String quote(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
