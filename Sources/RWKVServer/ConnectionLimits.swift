import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// At most `maximum` connections served at once; the listener stops accepting until one closes
/// (the rest wait in the kernel's backlog), so idle or slow clients cannot exhaust file descriptors.
func connectionLimit(_ maximum: Int) -> any AvailableConnectionsDelegate {
    MaximumAvailableConnections(maximum)
}

/// Closes a connection whose client takes longer than `timeout` to send one whole request (head
/// to end of body). Hummingbird's idle timeout restarts on every body chunk, so without this a body
/// trickled a byte a second would hold its connection (and a slot of the connection limit) forever.
/// Slow headers never produce a head, so the idle timeout closes those.
final class RequestReadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
