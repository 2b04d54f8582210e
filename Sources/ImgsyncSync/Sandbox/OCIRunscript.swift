/// `.singularity.d/runscript`: what `apptainer run` starts, made from ENTRYPOINT and CMD with the
/// semantics of the runscript Apptainer 1.5 writes for docker:// images.
///
/// Apptainer looks for the exact line `eval "set ${SINGULARITY_OCI_RUN}"` and, when it is there,
/// runs the script in its built-in shell interpreter instead of exec'ing it, which is what lets
/// `run` work in images without `/bin/sh`. The script must therefore stay plain POSIX sh.
enum OCIRunscript {
    /// The line Apptainer's runtime recognises; it must stand alone at column 0.
    static let evalLine = "eval \"set ${SINGULARITY_OCI_RUN}\""

    /// Differences from Apptainer, both only where its script would misbehave: an ENTRYPOINT of a
    /// single empty string means "no entrypoint" (Docker's reset convention) instead of exec'ing
    /// an empty name, and with nothing at all to run the script says so and exits 1 instead of
    /// listing the shell's variables (`set` without words) and exiting 0.
    static func render(entrypoint: [String], cmd: [String]) -> String {
        let entrypoint = entrypoint == [""] ? [] : entrypoint
        var s = "#!/bin/sh\n"
        s += "OCI_ENTRYPOINT='" + ShellQuoting.escapeSingleQuotes(ShellQuoting.doubleQuotedWords(entrypoint)) + "'\n"
        s += "OCI_CMD='" + ShellQuoting.escapeSingleQuotes(ShellQuoting.doubleQuotedWords(cmd)) + "'\n"
        s += """

            # Written by imgsync from the image's ENTRYPOINT and CMD, with the behaviour of the
            # runscript Apptainer 1.5 generates for docker:// images. Apptainer spots the eval line
            # near the end and interprets this file itself, so it needs no shell in the image.


            """
        if entrypoint.isEmpty && cmd.isEmpty {
            s += """
                if [ $# -eq 0 ]; then
                    echo "This image has neither ENTRYPOINT nor CMD: give the command to run as arguments." >&2
                    exit 1
                fi

                """
        }
        s += """
            # --no-eval (SINGULARITY_NO_EVAL set): OCI semantics. The command is ENTRYPOINT followed by
            # the arguments, or by CMD when there are none, and no word is re-read by a shell.
            if [ -n "${SINGULARITY_NO_EVAL:-}" ]; then

            """
        if !cmd.isEmpty {
            s += "    if [ $# -eq 0 ]; then\n"
            s += prepends(cmd, indent: "        ")
            s += "    fi\n"
        }
        s += prepends(entrypoint, indent: "    ")
        s += """
                exec "$@"
            fi

            # Default: the same command, but passed through the shell once more, as Apptainer has
            # always done. ENTRYPOINT and CMD words stay literal (they are escaped above); quotes,
            # variables and globs in the arguments given to `run` are evaluated.
            CMDLINE_ARGS=""
            for arg in "$@"; do
                CMDLINE_ARGS="${CMDLINE_ARGS} \\"${arg}\\""
            done
            if [ $# -gt 0 ]; then
                SINGULARITY_OCI_RUN="${OCI_ENTRYPOINT} ${CMDLINE_ARGS}"
            else
                SINGULARITY_OCI_RUN="${OCI_ENTRYPOINT} ${OCI_CMD}"
            fi
            \(evalLine)
            exec "$@"

            """
        return s
    }

    /// `set -- 'word' "$@"` for each word, last word first, so that the words end up in order
    /// in front of the current arguments.
    private static func prepends(_ words: [String], indent: String) -> String {
        words.reversed().map { indent + "set -- '" + ShellQuoting.escapeSingleQuotes($0) + "' \"$@\"\n" }.joined()
    }
}
