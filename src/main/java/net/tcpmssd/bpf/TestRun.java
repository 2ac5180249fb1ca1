package net.tcpmssd.bpf;

/**
 * What BPF_PROG_TEST_RUN gave back: the program's return value and the packet as it left it,
 * from the last of the runs, and the mean time of one run in nanoseconds as the kernel measured
 * it (with repeat > 1, every run after the first sees the packet the previous one left).
 */
public record TestRun(int returnValue, byte[] packet, long nanosPerRun) {}
