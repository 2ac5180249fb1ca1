package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The detach marker counts only in the child of the process that set it. */
class DetachTest {

    @Test
    void theMarkerCountsOnlyForTheParentItNames() {
        assertThat(Detach.isMarkerFor(Detach.markerFor(4242), 4242)).isTrue();
        assertThat(Detach.isMarkerFor(Detach.markerFor(4242), 4243)).as("passed on by a process that is not our parent").isFalse();
        assertThat(Detach.isMarkerFor("1", 1)).as("the old marker, from a caller's environment").isFalse();
        assertThat(Detach.isMarkerFor("1", 4242)).isFalse();
        assertThat(Detach.isMarkerFor(null, 4242)).isFalse();
        assertThat(Detach.isMarkerFor(Detach.markerFor(-1), -1)).as("no parent known").isFalse();
    }
}
