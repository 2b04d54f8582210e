import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncSync

/// A real Debian image (the cached `debootstrap --variant=minbase` rootfs of scripts/make-rootfs,
/// pushed to the local registry) synced with `imgsync sync`: `chroot <root>/<name> /bin/sh -c 'echo ok'`
/// works, and the Apptainer ENV file exports the image's ENV (issue 4, "What done looks like").
@Suite(.timeLimit(.minutes(10))) struct SyncDebianTests {
    @Test func aSyncedDebianTreeRunsInAChrootAndExportsItsEnv() async throws {
        try #require(getuid() == 0, "chroot needs root")
        let rootfsOutput = try await ChildProcess.run([SyncEndToEndTests.scripts + "/make-rootfs"], timeout: 900)
        let rootfs = try #require(rootfsOutput.split(separator: "\n").last.map(String.init), "make-rootfs printed no path")
        try await withFakeEnvironment { env in
            let reg = try await env.registry()
            let spec = #"[{"tag":"debian","manifests":[{"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=grüß $HOME `x` \"q\""],"Cmd":["bash"]},"layers":[{"tar":"\#(env.dir.file("rootfs.tar"))","compression":"gzip"}]}]}]"#
            try await ChildProcess.run(["sh", "-c", "gzip -dc '\(rootfs)' > '\(env.dir.file("rootfs.tar"))'"])
            let (layout, _) = try await env.layout(spec)
            try await env.push(layout, tag: "debian", to: "\(reg.name)/osg/debian:12")
            try env.dir.write("images.txt", "\(reg.name)/osg/debian:12\n")
            let root = env.dir.file("root")
            let out = try await ChildProcess.run([SyncCrashTests.imgsync, "sync", "--images", env.dir.file("images.txt"),
                                                  "--root", root, "--ca-file", env.ca.caCert, "--log-level", "error"], timeout: 600)
            #expect(out.contains("1 added"), "\(out)")
            let tree = root + "/osg/debian:12"
            let ok = try await ChildProcess.run(["chroot", tree, "/bin/sh", "-c", "echo ok"])
            #expect(ok == "ok\n")
            // The ENV file, sourced in a clean environment inside the image, gives the value literally.
            let greeting = try await ChildProcess.run(["chroot", tree, "/usr/bin/env", "-i", "/bin/sh", "-c",
                                                       ". /.singularity.d/env/10-docker2singularity.sh; printf %s \"$GREETING\""])
            #expect(greeting == "grüß $HOME `x` \"q\"")
            // The runscript runs the image's CMD through the shell it ships.
            let run = try await ChildProcess.run(["chroot", tree, "/bin/sh", "-c", "test -x /.singularity.d/runscript && head -1 /.singularity.d/runscript"])
            #expect(run.hasPrefix("#!/bin/sh"))
            for dir in ["proc", "sys", "dev", "tmp", "var/tmp", "home", "root", "etc", "cvmfs", "srv"] {
                var st = stat()
                #expect(lstat(tree + "/" + dir, &st) == 0, "mount point /\(dir) missing")
            }
        }
    }
}
