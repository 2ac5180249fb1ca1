package net.tcpmssd.cli;

import java.net.InetSocketAddress;

/**
 * The --metrics ADDR:PORT argument: an IPv4 address, a bracketed IPv6 address, or a port alone
 * (then loopback: counters are nobody's business off the router unless the operator says so).
 */
public record MetricsAddress(String host, int port) {

    public static MetricsAddress parse(String text) throws UsageException {
        String host = "127.0.0.1";
        String port = text;
        int colon = text.lastIndexOf(':');
        if (colon >= 0) {
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            } else if (host.contains(":")) {
                throw UsageException.invalid("invalid metrics address " + text + " (write IPv6 as [addr]:port)");
            }
        }
        if (host.isEmpty() || !port.matches("[0-9]{1,5}") || Integer.parseInt(port) > 65535
                || !host.matches("[0-9a-fA-F.:]+|localhost")) {
            throw UsageException.invalid("invalid metrics address " + text);
        }
        return new MetricsAddress(host, Integer.parseInt(port));
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(host, port);
    }
}
