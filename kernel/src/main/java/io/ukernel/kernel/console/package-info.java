/** The kernel console: structured lines to the terminal and logs/console.log, as text or JSON. */
package io.ukernel.kernel.console;
