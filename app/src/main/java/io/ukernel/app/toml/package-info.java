/**
 * A small TOML reader for {@code ukernel.toml}: the subset a manifest needs (comments, bare, quoted and dotted
 * keys, {@code [table]}, {@code [[array-of-tables]]}, basic and literal strings, integers, booleans, arrays and
 * inline tables), keeping the line of every key and value so that schema errors can point at them. Floats and
 * dates are recognised only to be rejected with a clear message.
 */
package io.ukernel.app.toml;
