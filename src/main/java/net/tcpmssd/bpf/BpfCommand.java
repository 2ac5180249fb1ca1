package net.tcpmssd.bpf;

import java.lang.foreign.MemorySegment;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The bpf(2) commands tcpmssd uses, by their number in bpf.h's enum bpf_cmd, each with the size
 * of the part of union bpf_attr it fills (the kernel copies that much and treats the rest as zero).
 */
enum BpfCommand {
    MAP_CREATE(0, 72),
    MAP_LOOKUP_ELEM(1, 32),
    MAP_UPDATE_ELEM(2, 32),
    PROG_LOAD(5, 128),
    PROG_ATTACH(8, 32),
    PROG_DETACH(9, 32),
    PROG_TEST_RUN(10, 80),
    PROG_GET_FD_BY_ID(13, 16),
    OBJ_GET_INFO_BY_FD(15, 16),
    PROG_QUERY(16, 64),
    LINK_CREATE(28, 64);

    final int number;
    /** Bytes of union bpf_attr this command's struct takes, rounded up to 8. */
    final int attrSize;

    BpfCommand(int number, int attrSize) {
        this.number = number;
        this.attrSize = attrSize;
    }

    /** Runs the command on an attr of {@link #attrSize} bytes; returns the kernel's answer (an fd, or 0). */
    int run(MemorySegment attr) throws ErrnoException {
        return (int) Libc.bpf("bpf " + name(), number, attr);
    }
}
