/**
 * The call table and one handler class per call family ({@code MetaCalls}, {@code LogCalls}, {@code TimeCalls},
 * {@code TaskCalls}). Handlers run on the reactor thread and return {@link io.ukernel.kernel.calls.Outcome}
 * values; the {@link io.ukernel.kernel.calls.Dispatcher} checks signatures and capabilities before them.
 */
package io.ukernel.kernel.calls;
