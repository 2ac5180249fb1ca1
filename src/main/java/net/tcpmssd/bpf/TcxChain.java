package net.tcpmssd.bpf;

import java.util.List;

/**
 * The programs attached at one tcx hook, in the order they run (BPF_PROG_QUERY), and the chain's
 * revision: it grows with every change, and an attach or detach given the revision it expects
 * fails (ESTALE) if another has come in between.
 */
public record TcxChain(long revision, List<Integer> programIds) {}
