/// `.singularity.d/env/10-docker2singularity.sh`: the image's ENV as shell exports, in the form
/// Apptainer ≥ 1.5.0 writes (single escaping inside double quotes, so every value stays literal).
enum DockerEnvScript {
    /// The script for `env` (config order) and one warning per entry left out.
    ///
    /// `PATH` is assigned outright; any other name gets a `${NAME:-"value"}` default, as Apptainer
    /// writes it (the runtime clears the host environment first, so only `--env` can override it).
    /// An entry without `=` exports the name with an empty default. Names that are not shell
    /// identifiers are skipped, as Apptainer does; so are values holding a NUL byte, which no shell
    /// variable can carry.
    static func render(_ env: [String]) -> (script: String, warnings: [String]) {
        var script = "#!/bin/sh\n"
        var warnings: [String] = []
        for entry in env {
            // Split on scalars, not Characters: "=" followed by a combining mark is one Character.
            let scalars = entry.unicodeScalars
            let eq = scalars.firstIndex(of: "=")
            let name = scalars[..<(eq ?? scalars.endIndex)]
            let nameText = String(String.UnicodeScalarView(name))
            guard ShellQuoting.isShellName(name) else {
                warnings.append("ENV entry \(nameText.debugDescription) skipped: not a valid shell variable name")
                continue
            }
            guard let eq else {
                script += "export \(nameText)=\"${\(nameText):-}\"\n"
                continue
            }
            let value = String(String.UnicodeScalarView(scalars[scalars.index(after: eq)...]))
            if value.unicodeScalars.contains("\0") {
                warnings.append("ENV entry \(nameText) skipped: its value contains a NUL byte")
                continue
            }
            let escaped = ShellQuoting.escapeForDoubleQuotes(value)
            if nameText == "PATH" {
                script += "export PATH=\"\(escaped)\"\n"
            } else {
                script += "export \(nameText)=\"${\(nameText):-\"\(escaped)\"}\"\n"
            }
        }
        return (script, warnings)
    }
}
