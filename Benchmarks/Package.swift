// swift-tools-version:6.1
import PackageDescription

// The ordo-one/benchmark suite, kept out of the root package so that `swift build` and CI do not
// build the benchmark tool. Run it with `scripts/bench` (or `swift package benchmark` in this folder).
let package = Package(
    name: "imgsync-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "imgsync", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Generated inputs and small helpers shared by the benchmark executables.
        .target(
            name: "BenchmarkInputs",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ImgsyncCore", package: "imgsync"),
                .product(name: "ImgsyncTestSupport", package: "imgsync"),
            ],
            path: "Support"
        ),
    ]
)

// One executable per stage of the layer pipeline, each in Benchmarks/<Name>/<Name>.swift (the
// benchmark plugin runs executables whose folder sits directly in a folder named "Benchmarks").
for name in ["Hashing", "TarParsing", "Decompression", "LayerApply"] {
    package.targets.append(
        .executableTarget(
            name: name,
            dependencies: [
                "BenchmarkInputs",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ImgsyncCore", package: "imgsync"),
                .product(name: "ImgsyncRepository", package: "imgsync"),
                .product(name: "ImgsyncTestSupport", package: "imgsync"),
            ],
            path: name,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
