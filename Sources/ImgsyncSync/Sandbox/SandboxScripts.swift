/// The fixed files of `.singularity.d`, the same for every image. Apptainer ≥ 1.0 and
/// SingularityCE ≥ 3.6 only source `env/*.sh` and read `runscript`; the `actions/*` scripts and
/// `startscript` exist for older runtimes and for parity with what `apptainer build` leaves.
enum SandboxScripts {
    /// Mandatory: Apptainer injects `--env`, `--env-file` and `APPTAINERENV_*` values right after
    /// sourcing this file (and nowhere else), and `--nv`/`--rocm` libraries are found through the
    /// `LD_LIBRARY_PATH` entry it adds.
    static let base99 = """
        #!/bin/sh
        # Added by imgsync. Host libraries bound by --nv, --rocm or --containlibs appear in
        # /.singularity.d/libs; Apptainer applies --env and APPTAINERENV_* right after this file.
        if [ -n "${LD_LIBRARY_PATH:-}" ]; then
            LD_LIBRARY_PATH="${LD_LIBRARY_PATH}:/.singularity.d/libs"
        else
            LD_LIBRARY_PATH="/.singularity.d/libs"
        fi
        if [ -z "${PS1:-}" ]; then
            PS1="Apptainer> "
        fi
        export LD_LIBRARY_PATH PS1

        """

    static let base01 = """
        #!/bin/sh
        # Added by imgsync: the first environment file, with nothing to set for images converted
        # from an OCI registry.

        """

    static let environment90 = """
        #!/bin/sh
        # Added by imgsync: where a definition file's %environment section would go. Images converted
        # from an OCI registry have none; their ENV is in 10-docker2singularity.sh.

        """

    /// SCIF apps (`--app NAME`): the app's directories go in front of PATH and LD_LIBRARY_PATH and
    /// its own environment files are sourced. Does nothing when no app is selected. The runtime
    /// passes the app's name as `SINGULARITY_APPNAME`, one of the few variables its action script
    /// keeps when it clears the environment (Apptainer too: there is no `APPTAINER_APPNAME`).
    static let apps95 = """
        #!/bin/sh
        # Added by imgsync: support for SCIF apps selected with --app.
        if [ -n "${SINGULARITY_APPNAME:-}" ]; then
            export SINGULARITY_APPNAME
            if [ ! -d "/scif/apps/${SINGULARITY_APPNAME}/" ]; then
                echo "Could not locate the container application: ${SINGULARITY_APPNAME}" >&2
                exit 1
            fi
            SCIF_APPS="/scif/apps"
            SCIF_APPROOT="/scif/apps/${SINGULARITY_APPNAME}"
            export SCIF_APPS SCIF_APPROOT
            PATH="${SCIF_APPROOT}:/scif/apps/singularity:${PATH}"
            if [ -d "${SCIF_APPROOT}/bin" ]; then
                PATH="${SCIF_APPROOT}/bin:${PATH}"
            elif [ -d "/scif/apps/singularity/bin" ]; then
                PATH="/scif/apps/singularity/bin:${PATH}"
            fi
            if [ -d "${SCIF_APPROOT}/lib" ]; then
                LD_LIBRARY_PATH="${SCIF_APPROOT}/lib:${LD_LIBRARY_PATH:-}"
                export LD_LIBRARY_PATH
            elif [ -d "/scif/apps/singularity/lib" ]; then
                LD_LIBRARY_PATH="/scif/apps/singularity/lib:${LD_LIBRARY_PATH:-}"
                export LD_LIBRARY_PATH
            fi
            for SCIF_ENVFILE in 01-base.sh 90-environment.sh; do
                if [ -f "${SCIF_APPROOT}/scif/env/${SCIF_ENVFILE}" ]; then
                    . "${SCIF_APPROOT}/scif/env/${SCIF_ENVFILE}"
                elif [ -f "/scif/apps/singularity/scif/env/${SCIF_ENVFILE}" ]; then
                    . "/scif/apps/singularity/scif/env/${SCIF_ENVFILE}"
                fi
            done
            unset SCIF_ENVFILE
            export PATH
        fi

        """

    /// Apptainer swaps in its own copy at run time; kept for runtimes that source the image's.
    static let runtimeVars99 = """
        #!/bin/sh
        # Added by imgsync: PATH changes asked for on the command line (--env PREPEND_PATH=...,
        # APPEND_PATH=..., PATH=...), applied after the image's own environment.
        if [ -n "${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then
            PATH="${SING_USER_DEFINED_PREPEND_PATH}:${PATH}"
        fi
        if [ -n "${SING_USER_DEFINED_APPEND_PATH:-}" ]; then
            PATH="${PATH}:${SING_USER_DEFINED_APPEND_PATH}"
        fi
        if [ -n "${SING_USER_DEFINED_PATH:-}" ]; then
            PATH="${SING_USER_DEFINED_PATH}"
        fi
        unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH
        export PATH

        """

    /// Empty, as Apptainer writes it even for images without apps.
    static let appsBase94 = ""

    static let startscript = "#!/bin/sh\n"

    private static let actionHeader = """
        #!/bin/sh
        # Added by imgsync for runtimes older than Apptainer 1.0 / SingularityCE 3.6; newer ones
        # use a built-in action script and never run this file.

        """

    private static let sourceEnvironment = """
        for IMGSYNC_ENVFILE in /.singularity.d/env/*.sh; do
            if [ -f "$IMGSYNC_ENVFILE" ]; then
                . "$IMGSYNC_ENVFILE"
            fi
        done
        unset IMGSYNC_ENVFILE

        """

    /// `actions/<name>` for each action.
    static let actions: [(name: String, body: String)] = [
        ("exec", actionHeader + sourceEnvironment + """
            exec "$@"

            """),
        ("run", actionHeader + sourceEnvironment + """
            if [ -x /.singularity.d/runscript ]; then
                exec /.singularity.d/runscript "$@"
            fi
            echo "No runscript in this container, starting /bin/sh" >&2
            exec /bin/sh "$@"

            """),
        // `--shell` reaches the container as SINGULARITY_SHELL, in Apptainer too.
        ("shell", actionHeader + sourceEnvironment + """
            if [ -n "${SINGULARITY_SHELL:-}" ] && [ -x "${SINGULARITY_SHELL}" ]; then
                exec "${SINGULARITY_SHELL}" "$@"
            fi
            if [ -x /bin/bash ]; then
                SHELL=/bin/bash
                export SHELL
                exec /bin/bash --norc "$@"
            fi
            SHELL=/bin/sh
            export SHELL
            exec /bin/sh "$@"

            """),
        ("start", actionHeader + """
            # Old runtimes wait for this signal before starting an instance.
            kill -CONT 1 2>/dev/null

            """ + sourceEnvironment + """
            if [ -x /.singularity.d/startscript ]; then
                exec /.singularity.d/startscript "$@"
            fi

            """),
        ("test", actionHeader + sourceEnvironment + """
            if [ -x /.singularity.d/test ]; then
                exec /.singularity.d/test "$@"
            fi
            echo "No test defined in this container" >&2
            exit 0

            """),
    ]

    /// `.singularity.d/Singularity`: the definition a docker:// build is equivalent to.
    static func definition(reference: String) -> String {
        "bootstrap: docker\nfrom: \(reference)\n\n"
    }
}
