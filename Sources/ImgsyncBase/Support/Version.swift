/// imgsync's version: `imgsync --version`, the User-Agent sent to registries, the JSON report.
public enum ImgsyncVersion {
    public static let current = "0.4.0"
}
