package dev.backdoorguard.offline.cli;

import picocli.CommandLine;

/** The tool version from the jar manifest (set by the build), or "dev" when run from classes. */
public final class VersionProvider implements CommandLine.IVersionProvider {
    public static String version() {
        String v = VersionProvider.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {"Backdoor Guard " + version()};
    }
}
