package net.tcpmssd.lab;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One lab for a whole test class, with its echo and download servers running:
 * {@code @RegisterExtension static final LabExtension LAB = new LabExtension();}
 */
public final class LabExtension implements BeforeAllCallback, AfterAllCallback {

    private Lab lab;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        lab = Lab.create();
        lab.startServers();
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
