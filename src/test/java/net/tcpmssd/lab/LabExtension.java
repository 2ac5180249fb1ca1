package net.tcpmssd.lab;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One lab for a whole test class, with its echo and download servers running, reset after each
 * test ({@link Lab#reset()}): {@code @RegisterExtension static final LabExtension LAB = new LabExtension();}
 */
public final class LabExtension implements BeforeAllCallback, AfterEachCallback, AfterAllCallback {

    private Lab lab;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        lab = Lab.create();
        lab.startServers();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (lab != null) {
            lab.reset();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (lab != null) {
            lab.close();
            lab = null;
        }
    }

    public Lab lab() {
        return lab;
    }
}
