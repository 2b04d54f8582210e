import Foundation
import ImgsyncCore

/// Why a client stopped asking a registry for the rest of the run, for the report.
public struct RegistryStop: Codable, Sendable, Equatable {
    /// For the summary: "request budget of 200 spent", or what the registry said.
    public var reason: String
    /// Requests the client refused to send to the registry afterwards.
    public var refused: Int

    public init(reason: String, refused: Int = 0) {
        self.reason = reason
        self.refused = refused
    }
}

/// What one client may still ask of one registry: a place among `limits.concurrency` requests in
/// flight, and a request from the run's budget. Once the budget is spent, or the registry said it has
/// no requests left (`RateLimit-Remaining: 0`), nothing more is sent to it in this run: every request
/// fails at once with `.budgetSpent`.
final class RegistryGate: @unchecked Sendable {
    // @unchecked: every var is only touched under `lock`.
    let registry: String
    let limits: RegistryLimits
    private let lock = NSLock()
    private var inFlight = 0
    private var peak = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiter: UInt64 = 0
    private var sent = 0
    private var stop: RegistryStop?

    init(registry: String, limits: RegistryLimits) {
        self.registry = registry
        self.limits = limits
    }

    // MARK: budget

    /// Takes one request from the budget before it is sent, or throws `.budgetSpent` (counting the
    /// refusal) once the registry is stopped or the budget used up. `label` names what was asked.
    func spend(_ label: String) throws {
        try lock.withLock {
            if stop == nil, let budget = limits.requestBudget, sent >= budget {
                stop = RegistryStop(reason: "request budget of \(budget) spent")
            }
            if stop != nil {
                stop!.refused += 1
                throw refusal(label)
            }
            sent += 1
        }
    }

    /// Throws `.budgetSpent` when nothing may be sent any more (without counting a refusal).
    func checkOpen(_ label: String) throws {
        try lock.withLock {
            guard stop != nil else { return }
            stop!.refused += 1
            throw refusal(label)
        }
    }

    /// Stops the registry for the rest of the run (the first reason given is kept).
    func stopAsking(because reason: String) {
        lock.withLock { if stop == nil { stop = RegistryStop(reason: reason) } }
    }

    var stopped: RegistryStop? { lock.withLock { stop } }

    /// Forgets the budget spent and any stop: a new run begins (`imgsync serve` keeps its client).
    func reset() {
        lock.withLock {
            sent = 0
            stop = nil
        }
    }

    private func refusal(_ label: String) -> ImgsyncError {
        let why = stop?.reason ?? "stopped"
        let hint = why.hasPrefix("request budget") ? " (--request-budget, --registry-limit)" : ""
        return ImgsyncError(.budgetSpent, "\(registry): \(why)\(hint); not asking it again in this run (\(label) not sent)")
    }

    // MARK: concurrency

    /// Waits for a place among the requests in flight to this registry. The lease must be released
    /// when the response (its body included) is done with; dropping it releases it too.
    func acquire() async throws -> RequestSlot {
        if lock.withLock({ takePlace() }) { return RequestSlot(self) }
        let id: UInt64 = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Looked at again under the lock that queues the waiter: a place freed since the
                // first look (its `release` found no one waiting) is taken now, not waited for.
                enum Outcome { case cancelled, granted, queued }
                let outcome: Outcome = lock.withLock {
                    if Task.isCancelled { return .cancelled }
                    if takePlace() { return .granted }
                    waiters.append((id, continuation))
                    return .queued
                }
                switch outcome {
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .granted: continuation.resume()
                case .queued: break
                }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Void, any Error>? = lock.withLock {
                guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
        return RequestSlot(self)
    }

    /// With `lock` held: takes a place when one is free and nobody is ahead in the line.
    private func takePlace() -> Bool {
        guard inFlight < limits.concurrency, waiters.isEmpty else { return false }
        inFlight += 1
        peak = max(peak, inFlight)
        return true
    }

    /// Hands the place to the first waiter, or frees it.
    fileprivate func release() {
        let next: CheckedContinuation<Void, any Error>? = lock.withLock {
            if waiters.isEmpty {
                inFlight -= 1
                return nil
            }
            return waiters.removeFirst().continuation
        }
        next?.resume()
    }

    /// The most requests that were in flight at once (for tests and logs).
    var peakInFlight: Int { lock.withLock { peak } }
}

/// A place among a registry's requests in flight; released once, explicitly or when dropped.
final class RequestSlot: @unchecked Sendable {
    // @unchecked: `gate` is only touched under `lock`.
    private let lock = NSLock()
    private var gate: RegistryGate?

    fileprivate init(_ gate: RegistryGate) { self.gate = gate }

    func release() {
        let gate: RegistryGate? = lock.withLock {
            defer { self.gate = nil }
            return self.gate
        }
        gate?.release()
    }

    deinit { release() }
}

/// The gates of one client, one per registry, made on first use from the configuration.
final class GateTable: @unchecked Sendable {
    // @unchecked: `gates` is only touched under `lock`.
    private let lock = NSLock()
    private var gates: [String: RegistryGate] = [:]
    private let configuration: RegistryClientConfiguration

    init(configuration: RegistryClientConfiguration) { self.configuration = configuration }

    func gate(_ registry: String) -> RegistryGate {
        lock.withLock {
            if let gate = gates[registry] { return gate }
            let gate = RegistryGate(registry: registry, limits: configuration.limits(for: registry))
            gates[registry] = gate
            return gate
        }
    }

    var all: [String: RegistryGate] { lock.withLock { gates } }
}

extension RegistryClient {
    /// Registries this client stopped asking in the current run, and why.
    public var stoppedRegistries: [String: RegistryStop] {
        gates.all.compactMapValues(\.stopped)
    }

    /// Starts a new run on a client that outlives runs (`imgsync serve`): request budgets are full
    /// again and stopped registries are asked again. Traffic figures are not reset.
    public func beginRun() {
        for gate in gates.all.values { gate.reset() }
        contentCache.removeAll()
    }

    /// The most requests that were in flight at once to `registry` since this client was made.
    public func peakConcurrency(_ registry: String) -> Int {
        gates.all[registry]?.peakInFlight ?? 0
    }
}
