/** The process platform: workers are host python3 processes started in isolated mode. */
package io.ukernel.platform.process;
