/// The executable `keyhole wrap NAME` writes into the wrapper directory: a POSIX sh script that finds the real
/// NAME further down PATH (never itself or its own directory) and runs it through `keyhole run`, or directly
/// when a keyhole session is already open (KEYHOLE_SESSION set), so sessions never nest.
enum WrapperScript {
    /// The line that marks a file as keyhole's wrapper (`unwrap` removes nothing else).
    static let marker = "# keyhole wrapper:"

    static func render(name: String, directory: String, keyhole: String) -> String {
        let quotedName = ShellQuote.sh(name)
        return """
            #!/bin/sh
            \(self.marker) written by `keyhole wrap \(name)`, removed by `keyhole unwrap \(name)`.
            # Runs the real \(name) (the next one on PATH after this directory) through `keyhole run`, or directly
            # inside a keyhole session (KEYHOLE_SESSION set), so that sessions never nest.
            name=\(quotedName)
            here=\(ShellQuote.sh(directory))
            keyhole=\(ShellQuote.sh(keyhole))

            real=
            saved_ifs=$IFS
            IFS=:
            set -f
            for dir in $PATH; do
                case $dir in
                    '' | "$here") continue ;;
                esac
                if [ -f "$dir/$name" ] && [ -x "$dir/$name" ] && ! [ "$dir/$name" -ef "$0" ]; then
                    real=$dir/$name
                    break
                fi
            done
            IFS=$saved_ifs
            set +f

            if [ -z "$real" ]; then
                printf '%s\\n' "keyhole: error: $name is not on PATH (only keyhole's wrapper in $here is)" \\
                    "  hint: install $name, or remove the wrapper with \\`keyhole unwrap $name\\`" >&2
                exit 127
            fi
            if [ -n "${KEYHOLE_SESSION:-}" ]; then
                exec "$real" "$@"
            fi
            if ! [ -x "$keyhole" ]; then
                keyhole=$(command -v keyhole 2>/dev/null) || keyhole=
            fi
            if [ -z "$keyhole" ]; then
                printf '%s\\n' "keyhole: warning: keyhole is not installed; running $real without it" \\
                    "  hint: install keyhole again, or remove the wrapper: rm '$here/$name'" >&2
                exec "$real" "$@"
            fi
            exec "$keyhole" run -- "$real" "$@"

            """
    }
}
