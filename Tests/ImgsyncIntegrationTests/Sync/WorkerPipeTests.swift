import Foundation
import ImgsyncCore
import NIOCore
import Testing
@testable import ImgsyncSync

/// The build worker's input pipe: frames written from downloaded buffers with `writev` arrive as
/// the same bytes, layer by layer, and a layer is complete only with its `END ` frame.
@Suite struct WorkerPipeTests {
    @Test func layersCrossThePipeUnchanged() async throws {
        let (r, w) = try WorkerSys.spawnLock.withLock { try WorkerSys.pipe() }
        var seed: UInt64 = 7
        func bytes(_ n: Int) -> [UInt8] {
            (0..<n).map { _ in seed = seed &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: seed >> 33) }
        }
        let job = Array(#"{"job":1}"#.utf8)
        let layers = [bytes(3 << 20), bytes(10), []]
        let writer = Thread {
            let input = WorkerInput(fd: w)
            try? input.send(.job, job)
            for layer in layers {
                // Chunks of uneven sizes, several per frame, as a download delivers them.
                var chunks: [ByteBuffer] = []
                var offset = 0, size = 1
                while offset < layer.count {
                    let n = min(size, layer.count - offset)
                    chunks.append(ByteBuffer(bytes: layer[offset..<(offset + n)]))
                    offset += n
                    size = size * 3 + 7
                    if chunks.count == 5 { try? input.send(chunks); chunks = [] }
                }
                try? input.send(chunks)
                try? input.send(.end)
            }
            input.close()
        }
        writer.start()
        let frames = WorkerFrameReader(fd: r)
        defer { WorkerSys.close(r) }
        #expect(try frames.readJob() == job)
        for layer in layers {
            let source = WorkerLayerSource(frames)
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if n == 0 { break }
                received += buffer[0..<n]
            }
            try source.finish()
            #expect(received == layer)
        }
        // The writer closed its end: a further layer is an error, not an empty layer.
        #expect(throws: ImgsyncError.self) {
            var buffer = [UInt8](repeating: 0, count: 16)
            _ = try buffer.withUnsafeMutableBytes { try WorkerLayerSource(frames).read(into: $0) }
        }
    }

    @Test func writingToAWorkerThatStoppedIsWorkerInputClosed() throws {
        let (r, w) = try WorkerSys.spawnLock.withLock { try WorkerSys.pipe() }
        WorkerSys.close(r)
        _ = signal(SIGPIPE, SIG_IGN)
        let input = WorkerInput(fd: w)
        #expect(throws: WorkerInputClosed.self) { try input.send([ByteBuffer(bytes: [1, 2, 3])]) }
    }
}
