/// Whether `keyhole run` reaches each installed runtime (filled in from the runtime catalog).
struct RuntimeChecks {
    let context: ClientContext

    func run(into report: inout DoctorReport) {}
}
