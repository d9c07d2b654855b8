package io.ukernel.app;

import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.policy.PolicyHints;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one translation from an app's manifest to what the kernel enforces: the kernel knows {@link Policy}, never
 * {@code ukernel.toml}; the remedies of its refusals are worded here, in the manifest's terms ({@link #HINTS}).
 */
public final class ManifestPolicy {
    private ManifestPolicy() {}

    /** The kernel's policy for {@code m}, its refusals worded in {@code ukernel.toml} terms. */
    public static Policy of(Manifest m) {
        Map<String, Policy.Preopen> preopens = new LinkedHashMap<>();
        m.preopens().forEach((name, p) -> preopens.put(name, new Policy.Preopen(p.name(), p.path(), p.writable())));
        return new Policy(m.name(), m.entry(), m.python(), m.caps(),
                new Policy.NetScope(m.net().connect(), m.net().bind()), preopens, m.limits(), restart(m.restart()),
                m.tasks().stream().map(t -> new Policy.TaskSpec(t.name(), t.entry(), t.caps(), t.atBoot(),
                        restart(t.restart()))).toList(),
                new Policy.Programs(m.programs(), m::resolvePrograms), HINTS);
    }

    private static Policy.RestartPolicy restart(Manifest.RestartPolicy r) {
        Policy.RestartPolicy.Mode mode = switch (r.mode()) {
            case NO -> Policy.RestartPolicy.Mode.NO;
            case ON_FAILURE -> Policy.RestartPolicy.Mode.ON_FAILURE;
            case ALWAYS -> Policy.RestartPolicy.Mode.ALWAYS;
        };
        return new Policy.RestartPolicy(mode, r.maxRetries(), r.backoffMs(), r.backoffMaxMs());
    }

    /** What to change in {@code ukernel.toml} when the kernel refuses something. */
    public static final PolicyHints HINTS = new PolicyHints() {
        @Override
        public String grantForCall() {
            return "grant it in " + Manifest.FILE_NAME + " [caps]";
        }

        @Override
        public String grantForAcquire() {
            return "grant it in " + Manifest.FILE_NAME + " [caps] grant";
        }

        @Override
        public String raiseLimit(String limit) {
            return "raise it in " + Manifest.FILE_NAME + " [limits]";
        }

        @Override
        public String noTask(String name) {
            return "no [[task]] named \"" + name + "\" in " + Manifest.FILE_NAME;
        }

        @Override
        public String preopens(Set<String> names) {
            return Manifest.FILE_NAME + " [caps.io] has " + new TreeSet<>(names);
        }

        @Override
        public String allowAddress(String list, String rule) {
            return "add \"" + rule + "\" to [caps.net] " + list + " in " + Manifest.FILE_NAME;
        }
    };
}
