package io.ukernel.vmm.firecracker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Firecracker's API contract, read from {@code ../shared/reference/firecracker-api-v1.16.1.yaml} at test time:
 * which paths and methods exist, which definition each body must follow, and whether a JSON value follows it
 * (types, required fields, no unknown fields — Firecracker rejects them —, enums, integer bounds, nested
 * {@code $ref}s). Path parameters (device ids) must match {@code [A-Za-z0-9_]+}, as Firecracker's docs say.
 */
final class SwaggerSpec {
    /** Firecracker's id rule for path parameters. */
    static final Pattern ID = Pattern.compile("[A-Za-z0-9_]+");

    /**
     * One operation.
     *
     * @param template   the path as the spec writes it, e.g. {@code /drives/{drive_id}}
     * @param method     upper case
     * @param body       the body's definition name, or null when it takes none
     * @param pathParams values of the path's parameters, by name
     */
    record Operation(String template, String method, String body, Map<String, String> pathParams) {}

    private final Map<String, Object> paths;
    private final Map<String, Object> definitions;

    @SuppressWarnings("unchecked")
    private SwaggerSpec(Map<String, Object> doc) {
        this.paths = (Map<String, Object>) doc.get("paths");
        this.definitions = (Map<String, Object>) doc.get("definitions");
        if (paths == null || definitions == null) {
            throw new IllegalArgumentException("not a swagger file: no paths or definitions");
        }
    }

    /** The spec shipped in the repository's shared reference directory. */
    static SwaggerSpec load() throws IOException {
        String repo = System.getProperty("ukernel.repo", ".");
        Path p = Path.of(repo).resolve("../shared/reference/firecracker-api-v1.16.1.yaml").normalize();
        if (!Files.isRegularFile(p)) {
            p = Path.of("/work/shared/reference/firecracker-api-v1.16.1.yaml");
        }
        return new SwaggerSpec(MiniYaml.parse(Files.readString(p)));
    }

    /** The paths the spec lists. */
    List<String> paths() {
        return List.copyOf(paths.keySet());
    }

    /** A definition's map (for tests of the reader). */
    @SuppressWarnings("unchecked")
    Map<String, Object> definition(String name) {
        return (Map<String, Object>) definitions.get(name);
    }

    /** The operation for {@code method path}, if the spec has it; a bad id is an error (message). */
    @SuppressWarnings("unchecked")
    Optional<Operation> find(String method, String path) {
        for (Map.Entry<String, Object> e : paths.entrySet()) {
            String template = e.getKey();
            List<String> names = new ArrayList<>();
            Matcher m = Pattern.compile("\\{([^}]+)}").matcher(template);
            StringBuilder regex = new StringBuilder();
            int last = 0;
            while (m.find()) {
                regex.append(Pattern.quote(template.substring(last, m.start()))).append("([^/]+)");
                names.add(m.group(1));
                last = m.end();
            }
            regex.append(Pattern.quote(template.substring(last)));
            Matcher pm = Pattern.compile(regex.toString()).matcher(path);
            if (!pm.matches()) {
                continue;
            }
            Map<String, Object> ops = (Map<String, Object>) e.getValue();
            Object op = ops.get(method.toLowerCase(Locale.ROOT));
            if (!(op instanceof Map<?, ?> opMap)) {
                return Optional.empty();
            }
            Map<String, String> params = new java.util.LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                params.put(names.get(i), pm.group(i + 1));
            }
            String body = null;
            if (opMap.get("parameters") instanceof List<?> ps) {
                for (Object p : ps) {
                    if (p instanceof Map<?, ?> pmap && "body".equals(pmap.get("in"))
                            && pmap.get("schema") instanceof Map<?, ?> schema) {
                        body = refName((String) schema.get("$ref"));
                    }
                }
            }
            return Optional.of(new Operation(template, method.toUpperCase(Locale.ROOT), body, params));
        }
        return Optional.empty();
    }

    /** Violations of {@code definition} by {@code value}; empty when it conforms. */
    List<String> validate(String definition, Object value) {
        List<String> errors = new ArrayList<>();
        check(definition, value, definition, errors);
        return errors;
    }

    @SuppressWarnings("unchecked")
    private void check(String defName, Object value, String where, List<String> errors) {
        Map<String, Object> def = (Map<String, Object>) definitions.get(defName);
        if (def == null) {
            errors.add(where + ": unknown definition " + defName);
            return;
        }
        checkSchema(def, value, where, errors);
    }

    @SuppressWarnings("unchecked")
    private void checkSchema(Map<String, Object> schema, Object value, String where, List<String> errors) {
        if (schema.get("$ref") instanceof String ref) {
            check(refName(ref), value, where, errors);
            return;
        }
        String type = (String) schema.getOrDefault("type", schema.containsKey("properties") ? "object" : "");
        switch (type) {
            case "object" -> {
                if (!(value instanceof Map<?, ?> obj)) {
                    errors.add(where + ": expected an object");
                    return;
                }
                Map<String, Object> props = (Map<String, Object>) schema.getOrDefault("properties", Map.of());
                if (schema.get("required") instanceof List<?> req) {
                    for (Object r : req) {
                        if (!obj.containsKey(r)) {
                            errors.add(where + ": missing required field " + r);
                        }
                    }
                }
                boolean open = "true".equals(String.valueOf(schema.get("additionalProperties")));
                for (Map.Entry<?, ?> f : obj.entrySet()) {
                    Object p = props.get(String.valueOf(f.getKey()));
                    if (p == null) {
                        if (!open) {
                            errors.add(where + ": unknown field " + f.getKey());
                        }
                        continue;
                    }
                    checkSchema((Map<String, Object>) p, f.getValue(), where + "." + f.getKey(), errors);
                }
            }
            case "string" -> {
                if (!(value instanceof String s)) {
                    errors.add(where + ": expected a string");
                } else if (schema.get("enum") instanceof List<?> en && !en.contains(s)) {
                    errors.add(where + ": \"" + s + "\" is not one of " + en);
                }
            }
            case "boolean" -> {
                if (!(value instanceof Boolean)) {
                    errors.add(where + ": expected a boolean");
                }
            }
            case "integer" -> {
                if (!(value instanceof Long n)) {
                    errors.add(where + ": expected an integer");
                } else {
                    if (schema.get("minimum") != null && n < Long.parseLong((String) schema.get("minimum"))) {
                        errors.add(where + ": " + n + " is below the minimum " + schema.get("minimum"));
                    }
                    if (schema.get("maximum") != null && n > Long.parseLong((String) schema.get("maximum"))) {
                        errors.add(where + ": " + n + " is above the maximum " + schema.get("maximum"));
                    }
                }
            }
            case "array" -> {
                if (!(value instanceof List<?> l)) {
                    errors.add(where + ": expected an array");
                } else if (schema.get("items") instanceof Map<?, ?> items) {
                    for (int i = 0; i < l.size(); i++) {
                        checkSchema((Map<String, Object>) items, l.get(i), where + "[" + i + "]", errors);
                    }
                }
            }
            default -> { }
        }
    }

    private static String refName(String ref) {
        return ref == null ? null : ref.substring(ref.lastIndexOf('/') + 1);
    }
}
