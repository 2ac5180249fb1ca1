package net.tcpmssd.cli;

import java.nio.charset.StandardCharsets;

/**
 * An interface name as Linux allows it (net/core/dev.c, dev_valid_name): 1 to 15 bytes
 * (IFNAMSIZ less the terminating NUL), not "." or "..", and no '/', ':' or white space, where
 * white space is the kernel's isspace(), which counts byte 0xA0 too (lib/ctype.c). Control
 * characters are refused as well, though the kernel lets them through: no real interface has
 * one, and it would break the one-line messages and the printed rules.
 *
 * <p>A name that can never exist is a typing error, told at once, rather than an interface that
 * is not there (yet): rtnetlink would answer a name over 15 bytes with ERANGE, and a daemon
 * asked to wait for an interface would wait for ever.
 */
final class InterfaceName {

    static final int MAX_BYTES = 15;

    private InterfaceName() {}

    static void check(String name) throws UsageException {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        boolean valid = bytes.length >= 1 && bytes.length <= MAX_BYTES && !name.equals(".") && !name.equals("..")
                && name.codePoints().noneMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c) || Character.isISOControl(c));
        for (byte b : bytes) {
            valid &= b != (byte) 0xA0;
        }
        if (!valid) {
            throw UsageException.invalid("invalid interface name " + UsageException.quoted(name) + " (Linux allows 1 to "
                    + MAX_BYTES + " bytes, without white space, control characters, '/' or ':')");
        }
    }
}
