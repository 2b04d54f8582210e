import ImgsyncCommands

@main
struct Entry {
    static func main() async {
        await Imgsync.main()
    }
}
