// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "imgsync",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "imgsync", targets: ["imgsync"]),
        .library(name: "ImgsyncBase", targets: ["ImgsyncBase"]),
        .library(name: "ImgsyncCore", targets: ["ImgsyncCore"]),
        .library(name: "ImgsyncRepository", targets: ["ImgsyncRepository"]),
        .library(name: "ImgsyncTestSupport", targets: ["ImgsyncTestSupport"]),
        .library(name: "ImgsyncRegistry", targets: ["ImgsyncRegistry"]),
        .library(name: "ImgsyncSync", targets: ["ImgsyncSync"]),
        .library(name: "ImgsyncServe", targets: ["ImgsyncServe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries from Debian, each behind a module map and a one-line shim header.
        .systemLibrary(name: "CImgsyncArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CImgsyncCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CImgsyncZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CImgsyncISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CImgsyncZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // Linux calls Swift cannot make directly (FICLONE ioctl, renameat2, copy_file_range).
        .target(name: "CImgsyncSys"),

        // What every layer above shares: the error type, digests and hashing, the fd-relative system
        // calls, owned descriptors, byte paths, and the one byte-safe tree walker and remover.
        .target(name: "ImgsyncBase", dependencies: ["CImgsyncSys", "CImgsyncCrypto"]),
        // The layer engine: tar reading, decompression, layer application into a directory fd, the
        // object store it links bodies from, catalogs. Re-exports ImgsyncBase.
        .target(
            name: "ImgsyncCore",
            dependencies: ["ImgsyncBase", "CImgsyncSys", "CImgsyncZlib", "CImgsyncISAL", "CImgsyncZstd"]
        ),
        // The repository: lock, staging, atomic writes, building and publishing images, GC, verify,
        // stats. Re-exports ImgsyncCore.
        .target(name: "ImgsyncRepository", dependencies: ["ImgsyncCore", "ImgsyncBase", "CImgsyncSys"]),
        // Registry client: references, auth, manifests and platform selection, verified blob streams.
        .target(
            name: "ImgsyncRegistry",
            dependencies: [
                "ImgsyncCore",
                "CImgsyncCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The sync engine: the image list, resolving, building from registries, publishing,
        // unpublishing, Apptainer sandbox metadata, the sync report.
        .target(
            name: "ImgsyncSync",
            dependencies: [
                "ImgsyncCore",
                "ImgsyncRepository",
                "ImgsyncRegistry",
                "CImgsyncSys",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `imgsync serve`: the HTTP endpoints, registry webhook parsing and matching, the persisted
        // queue of pushes and the scheduler that turns them (and the interval) into sync runs.
        .target(
            name: "ImgsyncServe",
            dependencies: [
                "ImgsyncCore",
                "ImgsyncRegistry",
                "ImgsyncRepository",
                "ImgsyncSync",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Command-line surface (ArgumentParser lives only here).
        .target(
            name: "ImgsyncCommands",
            dependencies: [
                "ImgsyncCore",
                "ImgsyncRepository",
                "ImgsyncRegistry",
                "ImgsyncSync",
                "ImgsyncServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "imgsync", dependencies: ["ImgsyncCommands"]),
        // In-memory tar/gzip/zstd layer construction for tests and benchmarks (crafted malformations included).
        .target(name: "ImgsyncTestSupport", dependencies: ["ImgsyncCore", "CImgsyncZlib", "CImgsyncZstd"]),

        .testTarget(
            name: "ImgsyncCoreTests",
            dependencies: ["ImgsyncCore", "ImgsyncRepository", "ImgsyncTestSupport", "CImgsyncArchive", "CImgsyncZlib", "CImgsyncZstd", "CImgsyncSys"]
        ),
        // Unit tests of the sync engine's pure parts (image list, sandbox files, planning).
        .testTarget(
            name: "ImgsyncSyncTests",
            dependencies: ["ImgsyncSync", "ImgsyncRegistry", "ImgsyncCore", "ImgsyncRepository", "ImgsyncTestSupport"]
        ),
        // Everything that needs a real registry (docker-registry over TLS, skopeo) or scripted servers:
        // the registry client, `imgsync inspect`, and sync end to end.
        .testTarget(
            name: "ImgsyncIntegrationTests",
            dependencies: [
                "ImgsyncRegistry",
                "ImgsyncSync",
                "ImgsyncServe",
                "ImgsyncCommands",
                "ImgsyncCore",
                "ImgsyncRepository",
                "ImgsyncTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Python helpers the integration tests run (scripted servers, token server, OCI layouts).
            exclude: ["Fixtures"]
        ),
        // Unit tests of `imgsync serve`'s pure parts: webhook parsing, matching, the queue.
        .testTarget(
            name: "ImgsyncServeTests",
            dependencies: ["ImgsyncServe", "ImgsyncSync", "ImgsyncRegistry", "ImgsyncCore",
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ImgsyncCommandsTests",
            dependencies: ["ImgsyncCommands", "ImgsyncCore", "ImgsyncRepository", "ImgsyncTestSupport"]
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CImgsyncSys" {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
