/// Typeflag bytes (ustar, GNU and PAX). `TarEntry.typeflag` is a raw byte, so any other value can be
/// written as well (`Z`, `0xFF`…).
public enum TarTypeflag {
    /// `0`: regular file.
    public static let regular: UInt8 = 0x30
    /// NUL: pre-POSIX regular file (a directory when the name ends in `/`).
    public static let legacyRegular: UInt8 = 0x00
    /// `1`: hard link.
    public static let hardlink: UInt8 = 0x31
    /// `2`: symbolic link.
    public static let symlink: UInt8 = 0x32
    /// `3`: character device.
    public static let charDevice: UInt8 = 0x33
    /// `4`: block device.
    public static let blockDevice: UInt8 = 0x34
    /// `5`: directory.
    public static let directory: UInt8 = 0x35
    /// `6`: FIFO.
    public static let fifo: UInt8 = 0x36
    /// `7`: contiguous file (read as regular by most readers).
    public static let contiguous: UInt8 = 0x37
    /// `x`: PAX extended header for the next entry.
    public static let paxExtended: UInt8 = 0x78
    /// `g`: PAX global header.
    public static let paxGlobal: UInt8 = 0x67
    /// `L`: GNU long name record.
    public static let gnuLongName: UInt8 = 0x4C
    /// `K`: GNU long link record.
    public static let gnuLongLink: UInt8 = 0x4B
    /// `S`: old GNU sparse file.
    public static let gnuSparse: UInt8 = 0x53
    /// `V`: GNU volume header.
    public static let gnuVolume: UInt8 = 0x56
    /// `M`: GNU multi-volume continuation.
    public static let gnuMultiVolume: UInt8 = 0x4D
}
