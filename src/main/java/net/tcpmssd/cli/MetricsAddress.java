package net.tcpmssd.cli;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * The --metrics ADDR:PORT argument: an IPv4 address in dotted-quad form, an IPv6 address in
 * brackets, or a port alone (then loopback: counters are nobody's business off the router unless
 * the operator says so). {@code localhost} is 127.0.0.1.
 *
 * <p>Literal addresses only, read here: a name would be a DNS lookup at start, made as root, to
 * servers a boot may not reach yet, with an answer nobody checked. The IPv4 form is the strict
 * one of inet_pton(3): exactly four decimal parts of 0 to 255 without leading zeros, where
 * inet_aton(3) and {@link InetAddress#getByName} would read "1.2.3" as 1.2.0.3 and "010" as octal.
 */
public record MetricsAddress(String host, InetAddress address, int port) {

    private static final InetAddress LOOPBACK = ipv4(new byte[] {127, 0, 0, 1});

    public static MetricsAddress parse(String text) throws UsageException {
        String host = "127.0.0.1";
        String port = text;
        int colon = text.lastIndexOf(':');
        if (colon >= 0) {
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
        }
        if (!port.matches("[0-9]{1,5}") || Integer.parseInt(port) > 65535) {
            throw UsageException.invalid("invalid metrics address " + UsageException.quoted(text));
        }
        InetAddress address;
        if (host.equals("localhost")) {
            address = LOOPBACK;
        } else if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
            address = ipv6(host);
        } else if (host.contains(":")) {
            throw UsageException.invalid("invalid metrics address " + UsageException.quoted(text) + " (write IPv6 as [addr]:port)");
        } else {
            address = dottedQuad(host);
        }
        if (address == null) {
            throw UsageException.invalid("invalid metrics address " + UsageException.quoted(text));
        }
        return new MetricsAddress(host, address, Integer.parseInt(port));
    }

    /** Four decimal parts 0-255, no leading zeros; null for anything else. */
    static InetAddress dottedQuad(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            String part = parts[i];
            if (!part.matches("0|[1-9][0-9]{0,2}") || Integer.parseInt(part) > 255) {
                return null;
            }
            bytes[i] = (byte) Integer.parseInt(part);
        }
        return ipv4(bytes);
    }

    /**
     * An IPv6 literal, or null. Inet6Address.ofLiteral parses and never resolves; an IPv4-mapped
     * literal (::ffff:a.b.c.d) it turns into IPv4, which an IPv6-only socket could never serve.
     */
    private static InetAddress ipv6(String text) {
        if (text.isEmpty() || !text.matches("[0-9a-fA-F:.]+")) {
            return null;
        }
        try {
            InetAddress address = Inet6Address.ofLiteral(text);
            return address instanceof Inet6Address ? address : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static InetAddress ipv4(byte[] bytes) {
        try {
            return Inet4Address.getByAddress(bytes); // from bytes: no lookup
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // four bytes are always an address
        }
    }

    /** True for an IPv6 address: the listening socket is then IPv6 only. */
    public boolean ipv6() {
        return address instanceof Inet6Address;
    }

    /** As the operator wrote it (for messages): "[::1]:9815", not "[0:0:0:0:0:0:0:1]:9815". */
    @Override
    public String toString() {
        return (ipv6() ? "[" + host + "]" : host) + ":" + port;
    }

    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(address, port);
    }
}
