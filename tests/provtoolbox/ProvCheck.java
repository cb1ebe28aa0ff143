// ProvToolbox as the tests' independent PROV reader and PROV-CONSTRAINTS validator, for many files in one JVM
// (tests/_provtoolbox.py compiles and runs it; a JVM start costs seconds).
//
//   java -cp JARS:CLASSES ProvCheck read OUT_DIR FILE...   each FILE read by its extension, written to OUT_DIR as
//                                                          PROV-N (<index>.provn), its records counted by kind
//   java -cp JARS:CLASSES ProvCheck validate FILE...       each FILE read and checked against PROV-CONSTRAINTS
//
// One JSON object per FILE on standard output, in order: {"file", "ok", "error", "counts", ...}.
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import java.util.TreeMap;

import org.openprovenance.prov.interop.InteropFramework;
import org.openprovenance.prov.model.Bundle;
import org.openprovenance.prov.model.DateTimeOption;
import org.openprovenance.prov.model.Document;
import org.openprovenance.prov.model.ProvFactory;
import org.openprovenance.prov.model.QualifiedName;
import org.openprovenance.prov.model.Statement;
import org.openprovenance.prov.model.StatementOrBundle;
import org.openprovenance.prov.model.interop.Formats;
import org.openprovenance.prov.validation.Config;
import org.openprovenance.prov.validation.ExistentialVariable;
import org.openprovenance.prov.validation.ObjectMaker;
import org.openprovenance.prov.validation.Unknown;
import org.openprovenance.prov.validation.Validate;
import org.openprovenance.prov.validation.VarQName;
import org.openprovenance.prov.validation.report.Dependencies;
import org.openprovenance.prov.validation.report.MergeReport;
import org.openprovenance.prov.validation.report.ValidationReport;

public class ProvCheck {
    /** The validator's existential variables and unknowns: qualified names it mints while checking. */
    static class Variable extends org.openprovenance.prov.vanilla.QualifiedName implements VarQName, ExistentialVariable {
        Variable(String namespace, String local, String prefix) {
            super(namespace, local, prefix);
        }
    }

    static class Placeholder extends org.openprovenance.prov.vanilla.QualifiedName implements Unknown {
        Placeholder(String namespace, String local) {
            super(namespace, local, "unknown");
        }
    }

    static class Maker implements ObjectMaker {
        public VarQName makeVarQName(String namespace, String local, String prefix) {
            return new Variable(namespace, local, prefix);
        }

        public VarQName makeVarQName(QualifiedName name) {
            return new Variable(name.getNamespaceURI(), name.getLocalPart(), name.getPrefix());
        }

        public Unknown makeUnknown(String namespace, String local) {
            return new Placeholder(namespace, local);
        }
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        String mode = args[0];
        int first = mode.equals("read") ? 2 : 1;
        InteropFramework interop = new InteropFramework();
        ProvFactory factory = interop.getFactory();
        for (int i = first; i < args.length; i++) {
            String file = args[i];
            StringBuilder line = new StringBuilder("{\"file\":").append(quote(file));
            try {
                // PRESERVE: a time without a zone stays without one (by default ProvToolbox adds its own)
                Document document = interop.readDocumentFromFile(file, DateTimeOption.PRESERVE, TimeZone.getDefault());
                line.append(",\"counts\":").append(counts(document));
                if (mode.equals("read")) {
                    String written = new File(args[1], (i - first) + ".provn").getPath();
                    // PROV-JSON leaves prov: and xsd: implicit; the PROV-N writer needs them declared
                    document.getNamespace().register("prov", "http://www.w3.org/ns/prov#");
                    document.getNamespace().register("xsd", "http://www.w3.org/2001/XMLSchema#");
                    interop.writeDocument(written, document, Formats.ProvFormat.PROVN);
                    line.append(",\"provn\":").append(quote(written)).append(",\"ok\":true");
                } else {
                    Validate validator = new Validate(Config.newYesToAllConfig(factory, new Maker()));
                    ValidationReport report = validator.validate(document);
                    line.append(validation(report));
                }
            } catch (Throwable failure) {
                StringWriter trace = new StringWriter();
                failure.printStackTrace(new PrintWriter(trace));
                String text = trace.toString();
                line.append(",\"ok\":false,\"error\":").append(quote(text.substring(0, Math.min(text.length(), 3000))));
            }
            out.println(line.append("}"));
        }
    }

    /** Records by kind (PROV_ENTITY, PROV_USAGE, ...), bundles' records under "<bundle id> <kind>" too. */
    static String counts(Document document) {
        Map<String, Integer> counts = new TreeMap<>();
        for (StatementOrBundle record : document.getStatementOrBundle()) {
            counts.merge(record.getKind().toString(), 1, Integer::sum);
            if (record instanceof Bundle) {
                Bundle bundle = (Bundle) record;
                for (Statement inner : bundle.getStatement()) {
                    counts.merge(bundle.getId().getUri() + " " + inner.getKind(), 1, Integer::sum);
                }
            }
        }
        StringBuilder json = new StringBuilder("{");
        for (Map.Entry<String, Integer> entry : counts.entrySet()) {
            if (json.length() > 1) json.append(",");
            json.append(quote(entry.getKey())).append(":").append(entry.getValue());
        }
        return json.append("}").toString();
    }

    /** What PROV-CONSTRAINTS found: "ok" when nothing; otherwise each kind of problem, described. */
    static String validation(ValidationReport report) {
        StringBuilder problems = new StringBuilder();
        List<Dependencies> cycles = report.getCycle();
        if (cycles != null && !cycles.isEmpty()) {
            problems.append("strict cycles in the event ordering: ").append(cycles).append("\n");
        }
        List<MergeReport> failed = report.getFailedMerge();
        if (failed != null && !failed.isEmpty()) {
            problems.append("failed merges (uniqueness/key constraints): ").append(failed).append("\n");
        }
        if (report.getQualifiedNameMismatch() != null && !report.getQualifiedNameMismatch().isEmpty()) {
            problems.append("qualified name mismatches: ").append(report.getQualifiedNameMismatch()).append("\n");
        }
        if (report.getSpecializationReport() != null) {
            problems.append("specialization: ").append(report.getSpecializationReport()).append("\n");
        }
        if (report.getTypeOverlap() != null && !report.getTypeOverlap().isEmpty()) {
            problems.append("type overlaps (disjointness): ").append(report.getTypeOverlap()).append("\n");
        }
        if (report.getMalformedStatements() != null) {
            problems.append("malformed statements: ").append(report.getMalformedStatements()).append("\n");
        }
        String text = problems.toString();
        return ",\"ok\":" + text.isEmpty() + ",\"error\":" + (text.isEmpty() ? "null" : quote(text.substring(0, Math.min(text.length(), 6000))));
    }

    static String quote(String text) {
        StringBuilder json = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') json.append('\\').append(c);
            else if (c < 0x20) json.append(String.format("\\u%04x", (int) c));
            else json.append(c);
        }
        return json.append('"').toString();
    }
}
