import Foundation
import ImgsyncServe

/// The `POST /webhook` body parser (distribution envelope, Harbor) on arbitrary bytes. It must
/// return or throw `WebhookError`, never trap; it returns at most `maxEvents` pushes, and each one
/// survives the queue file (encoded, then decoded with validation) unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebhook(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput(data, size)
    let pushes: [RegistryPush]
    do {
        pushes = try WebhookPayload.pushes(from: input.payload)
    } catch is WebhookError {
        return 0
    } catch {
        finding("an error that is not a WebhookError: \(error)")
    }
    if pushes.count > WebhookPayload.maxEvents { finding("\(pushes.count) pushes from one body") }
    for push in pushes {
        do {
            let decoded = try JSONDecoder().decode(RegistryPush.self, from: try JSONEncoder().encode(push))
            if decoded != push { finding("\(push) reads back from the queue file as \(decoded)") }
        } catch {
            finding("\(push) does not survive the queue file: \(error)")
        }
    }
    return 0
}
