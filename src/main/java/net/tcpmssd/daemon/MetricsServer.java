package net.tcpmssd.daemon;

import io.prometheus.metrics.config.PrometheusProperties;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;

/**
 * {@code --metrics ADDR:PORT}: the counters at {@code GET /metrics} (and HEAD), for Prometheus,
 * written by the official Java client's exposition formats (the Prometheus text format, or
 * OpenMetrics or protobuf when the scraper's Accept header prefers them), served by
 * {@link HttpListener}. Any other path is 404, any other method 405.
 *
 * <p>The metrics, all read from {@link Counters} and summed over the queues at each scrape (the
 * packet path never sees this class):
 * <ul>
 * <li>{@code tcpmssd_packets_total{family, outcome}}, counter: queued packets by IP version
 *     ({@code ipv4}, {@code ipv6}, {@code other}) and by {@link Outcome}, named by the enum constant
 *     in lower case ({@code clamped}, {@code mss_small_enough}, {@code no_mss_option}, {@code not_syn},
 *     {@code not_tcp}, {@code incoming}, {@code malformed}, ...). Every combination is exported from
 *     the start, at 0, so that {@code rate()} sees the first packet of each.
 * <li>{@code tcpmssd_receive_buffer_overruns_total}, counter: times our socket's receive buffer
 *     overflowed; packets passed unclamped by fail-open then, and are in no other count.
 * <li>{@code tcpmssd_maximum_mss_bytes{family}}, gauge: the largest MSS a SYN leaves with, for
 *     {@code ipv4} and {@code ipv6}; absent while the daemon is still starting. In bytes, so named
 *     with the unit like node_exporter's {@code node_network_mtu_bytes}.
 * </ul>
 */
final class MetricsServer implements AutoCloseable {

    static final String PATH = "/metrics";

    private static final Outcome[] OUTCOMES = Outcome.values();
    private static final int[] VERSIONS = {4, 6, 0};
    private static final String[] FAMILIES = {"ipv4", "ipv6", "other"};

    /** Label sets built once: a scrape then only reads counters and allocates the snapshots. */
    private static final Labels[][] PACKET_LABELS = new Labels[VERSIONS.length][OUTCOMES.length];
    private static final Labels IPV4 = Labels.of("family", FAMILIES[0]);
    private static final Labels IPV6 = Labels.of("family", FAMILIES[1]);

    static {
        for (int f = 0; f < VERSIONS.length; f++) {
            for (Outcome o : OUTCOMES) {
                PACKET_LABELS[f][o.ordinal()] = Labels.of("family", FAMILIES[f], "outcome", o.name().toLowerCase(Locale.ROOT));
            }
        }
    }

    private final HttpListener listener;

    private MetricsServer(HttpListener listener) {
        this.listener = listener;
    }

    /** Starts serving GET /metrics on the address; the counters are read at each scrape. */
    static MetricsServer start(MetricsAddress address, Supplier<List<Counters>> counters, Supplier<MaxMss> maximum)
            throws IOException {
        return start(address, counters, maximum, HttpListener.Limits.DEFAULT);
    }

    static MetricsServer start(MetricsAddress address, Supplier<List<Counters>> counters, Supplier<MaxMss> maximum,
            HttpListener.Limits limits) throws IOException {
        // Empty properties: init() would read io.prometheus.* system properties, IO_PROMETHEUS_*
        // variables and a prometheus.properties file, none of which is ours to obey.
        ExpositionFormats formats = ExpositionFormats.init(PrometheusProperties.builder().build());
        return new MetricsServer(HttpListener.start(address, request -> respond(request, formats, counters, maximum), limits));
    }

    private static HttpListener.Response respond(HttpListener.Request request, ExpositionFormats formats,
            Supplier<List<Counters>> counters, Supplier<MaxMss> maximum) {
        if (!request.path().equals(PATH)) {
            return HttpListener.Response.text(404, "404 Not Found: tcpmssd serves " + PATH + " only\n");
        }
        if (!request.method().equals("GET") && !request.method().equals("HEAD")) {
            return new HttpListener.Response(405, "text/plain; charset=utf-8",
                    "405 Method Not Allowed: GET or HEAD\n".getBytes(java.nio.charset.StandardCharsets.UTF_8), "Allow: GET, HEAD");
        }
        ExpositionFormatWriter writer = formats.findWriter(request.accept());
        ByteArrayOutputStream body = new ByteArrayOutputStream(8192);
        try {
            writer.write(body, collect(counters.get(), maximum.get()));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // into a byte array: cannot happen
        }
        return new HttpListener.Response(200, writer.getContentType(), body.toByteArray(), null);
    }

    /** The bound port: the address's, or the one the kernel chose for port 0. */
    int port() {
        return listener.port();
    }

    /** Stops listening (the port is free on return) and closes every connection. */
    @Override
    public void close() {
        listener.close();
    }

    private static MetricSnapshots collect(List<Counters> all, MaxMss max) {
        CounterSnapshot.Builder packets = CounterSnapshot.builder()
                .name("tcpmssd_packets")
                .help("Packets queued to tcpmssd, by IP version and what became of them.");
        for (int f = 0; f < VERSIONS.length; f++) {
            for (Outcome o : OUTCOMES) {
                long sum = 0;
                for (Counters c : all) {
                    sum += c.get(VERSIONS[f], o);
                }
                packets.dataPoint(CounterDataPointSnapshot.builder().labels(PACKET_LABELS[f][o.ordinal()]).value(sum).build());
            }
        }
        CounterSnapshot overruns = CounterSnapshot.builder()
                .name("tcpmssd_receive_buffer_overruns")
                .help("Receive buffer overflows (ENOBUFS); the packets lost then passed unclamped by fail-open.")
                .dataPoint(CounterDataPointSnapshot.builder().value(all.stream().mapToLong(Counters::overruns).sum()).build())
                .build();
        GaugeSnapshot.Builder maximum = GaugeSnapshot.builder()
                .name("tcpmssd_maximum_mss_bytes")
                .unit(Unit.BYTES)
                .help("The largest MSS a SYN leaves tcpmssd with.");
        if (max != null) { // null while starting: a gauge without samples is left out of the scrape
            maximum.dataPoint(GaugeDataPointSnapshot.builder().labels(IPV4).value(max.ipv4()).build());
            maximum.dataPoint(GaugeDataPointSnapshot.builder().labels(IPV6).value(max.ipv6()).build());
        }
        return new MetricSnapshots(packets.build(), overruns, maximum.build());
    }
}
