# keyhole shell integration for fish. In ~/.config/fish/config.fish:
#   keyhole shell-init fish | source
# (`keyhole shell-init fish` prints this file after a line naming its own binary; sourcing the installed copy
# works too, with `keyhole` from PATH.) It puts keyhole's wrapper directory first on PATH, defines a function for
# every wrapped command (`keyhole wrap --list`) that runs it through `keyhole run`, and loads the completions.

set -q __keyhole_bin; or set -g __keyhole_bin keyhole
set -q __keyhole_functions; or set -g __keyhole_functions

# The locations keyhole itself uses (an XDG variable that is not an absolute path is ignored, as the spec says).
set -g __keyhole_wrappers $HOME/.local/share/keyhole/bin
string match -q -- '/*' "$XDG_DATA_HOME"; and set __keyhole_wrappers $XDG_DATA_HOME/keyhole/bin
set -g __keyhole_list $HOME/.config/keyhole/wrapped
string match -q -- '/*' "$XDG_CONFIG_HOME"; and set __keyhole_list $XDG_CONFIG_HOME/keyhole/wrapped

# The wrapper directory first on PATH, exactly once (moved to the front if it is already there).
set -l __keyhole_rest
for __keyhole_entry in $PATH
    test "$__keyhole_entry" = "$__keyhole_wrappers"; or set -a __keyhole_rest $__keyhole_entry
end
set -gx PATH $__keyhole_wrappers $__keyhole_rest
set -e __keyhole_entry

# Runs a wrapped command through `keyhole run`; inside a session already (KEYHOLE_SESSION set), directly.
function __keyhole_run
    if test -n "$KEYHOLE_SESSION"
        command $argv
    else
        command $__keyhole_bin run -- $argv
    end
end

# (Re)defines one function per name in the wrapped list, removing those of names no longer listed.
function __keyhole_load
    for name in $__keyhole_functions
        functions -e $name
    end
    set -g __keyhole_functions
    test -r $__keyhole_list; or return 0
    while read -l name
        string match -q -r -- '^[A-Za-z0-9_][A-Za-z0-9._+-]*$' $name; or continue
        function $name -V name
            __keyhole_run $name $argv
        end
        set -a __keyhole_functions $name
    end <$__keyhole_list
end

# `keyhole wrap` and `keyhole unwrap` take effect in this shell at once.
function keyhole
    command $__keyhole_bin $argv
    set -l result $status
    contains -- "$argv[1]" wrap unwrap; and __keyhole_load
    return $result
end

__keyhole_load

if status is-interactive
    command $__keyhole_bin --generate-completion-script fish 2>/dev/null | source
end
