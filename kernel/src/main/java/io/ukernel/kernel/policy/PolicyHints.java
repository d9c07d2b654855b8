package io.ukernel.kernel.policy;

import java.util.Set;

/**
 * How a refusal's remedy is worded. The kernel states what was refused and why (the capability, the limit, the
 * scope, the name); the layer that owns the app's policy format says what to change in it. The kernel never
 * quotes that format itself. Each method returns a phrase the kernel puts into its refusal where the comment says.
 */
public interface PolicyHints {
    /** After "call cap_acquire first, and ": a call needs a capability outside the task's ceiling. */
    String grantForCall();

    /** In parentheses after a {@code cap_acquire} denial: the capability is beyond the task's ceiling. */
    String grantForAcquire();

    /** In parentheses, before the kernel's alternative ("or close handles"): the quota {@code limit} is reached. */
    String raiseLimit(String limit);

    /** The whole reason of {@code task_spawn} for a task the policy does not declare. */
    String noTask(String name);

    /** In parentheses after "no preopen named X": the preopens there are. */
    String preopens(Set<String> names);

    /** After "no net.LIST rule matches; ": how to allow {@code rule} in the allow-list {@code list}. */
    String allowAddress(String list, String rule);

    /** The kernel's own wording, for a policy built without a format behind it (tests, embedders). */
    PolicyHints NEUTRAL = new PolicyHints() {
        @Override
        public String grantForCall() {
            return "grant it in the app's policy";
        }

        @Override
        public String grantForAcquire() {
            return "grant it in the app's policy";
        }

        @Override
        public String raiseLimit(String limit) {
            return "raise " + limit + " in the app's policy";
        }

        @Override
        public String noTask(String name) {
            return "no task named \"" + name + "\" in the app's policy";
        }

        @Override
        public String preopens(Set<String> names) {
            return "the app's policy has " + new java.util.TreeSet<>(names);
        }

        @Override
        public String allowAddress(String list, String rule) {
            return "allow \"" + rule + "\" in net." + list + " of the app's policy";
        }
    };
}
