# bash completion for arkctl(1)                                  -*- shell-script -*-
#
# Completes nouns, verbs, options, -o values, file names for --image/--kernel/--initrd, and the
# names of tenants and VMs by asking arkd (`arkctl --no-legend tenant list`, whose rows begin with
# the name). The commands and their options come from arkctl itself (`arkctl --list-commands`,
# made from the table it parses with), so they cannot drift from it. Self-contained: works with
# or without the bash-completion package.

_arkctl_commands() {
    # $1: the arkctl to ask. Sets the caller's _arkctl_nouns, _arkctl_global (the global options),
    # _arkctl_takes_value (" -o --tenant ... ": every option that takes a value) and the
    # associative array _arkctl_cmds ("noun verb", or "noun" alone, to the command's options).
    local -a words
    local w kind cmd opts
    while read -r -a words; do
        [ ${#words[@]} -gt 0 ] || continue
        kind=${words[0]} cmd= opts=
        for w in "${words[@]:1}"; do
            if [[ "$w" == -* ]]; then
                opts+=" ${w%%=*}"
                [[ "$w" == *=* && "$_arkctl_takes_value" != *" ${w%%=*} "* ]] && _arkctl_takes_value+="${w%%=*} "
            else
                cmd+="${cmd:+ }$w"
            fi
        done
        if [ "$kind" = options ]; then
            _arkctl_global=$opts
        elif [ "$kind" = command ] && [ -n "$cmd" ]; then
            _arkctl_cmds[$cmd]=$opts
            [[ "$_arkctl_nouns" == *" ${cmd%% *} "* ]] || _arkctl_nouns+="${cmd%% *} "
        fi
    done < <("$1" --list-commands 2>/dev/null)
}

_arkctl_names() {
    # $1: the noun whose names to list (tenant, vm or image), through the same bus as the command line:
    # its --bus-address, else $ARK_BUS_ADDRESS, else the system bus. No arkd: no names.
    local -a bus=()
    [ -n "$_arkctl_bus" ] && bus=(--bus-address "$_arkctl_bus")
    "${COMP_WORDS[0]}" "${bus[@]}" --no-legend "$1" list 2>/dev/null | cut -d' ' -f1
}

_arkctl_accelerators() {
    # The accelerators' PCI addresses (not their group members, which are indented).
    local -a bus=()
    [ -n "$_arkctl_bus" ] && bus=(--bus-address "$_arkctl_bus")
    "${COMP_WORDS[0]}" "${bus[@]}" --no-legend host accelerators 2>/dev/null |
        grep -o '^[0-9a-f]\{4\}:[0-9a-f:.]*'
}

_arkctl_join_words() {
    # bash splits words at COMP_WORDBREAKS too, so "unix:path=/x" and "--output=json" arrive in
    # pieces. Join the pieces not separated by blanks in COMP_LINE: sets _arkctl_words (up to and
    # including the current word).
    local line=${COMP_LINE:0:COMP_POINT} i w pos=0 start
    _arkctl_words=()
    for ((i = 0; i <= COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        start=$pos
        while [[ "${line:pos:1}" == [[:blank:]] ]]; do ((pos++)); done
        if ((i > 0 && pos == start && ${#_arkctl_words[@]} > 0)); then
            _arkctl_words[${#_arkctl_words[@]} - 1]+=$w
        else
            _arkctl_words+=("$w")
        fi
        ((pos += ${#w}))
    done
}

_arkctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} word prev= opt= i w n c
    local -a pos=() _arkctl_words=()
    local -A _arkctl_cmds=()
    local _arkctl_bus= _arkctl_nouns=" " _arkctl_global= _arkctl_takes_value=" "

    _arkctl_commands "${COMP_WORDS[0]}"
    _arkctl_join_words
    n=${#_arkctl_words[@]}
    word=${_arkctl_words[n - 1]}
    ((n > 1)) && prev=${_arkctl_words[n - 2]}
    # Completing right after "--output=": bash's current piece is the "=" itself.
    [[ "$cur" == "=" ]] && cur=

    if [[ "$word" == --*=* ]]; then
        opt=${word%%=*}
    elif [[ "$_arkctl_takes_value" == *" $prev "* ]]; then
        opt=$prev
    fi

    # Positional words so far, skipping options and their values; remember --bus-address.
    for ((i = 1; i < n - 1; i++)); do
        w=${_arkctl_words[i]}
        if [ "$w" = "--" ]; then
            continue
        elif [[ "$w" == --bus-address=* ]]; then
            _arkctl_bus=${w#*=}
        elif [[ "$w" == -* ]]; then
            if [[ "$_arkctl_takes_value" == *" $w "* ]]; then
                ((i++))
                [ "$w" = "--bus-address" ] && _arkctl_bus=${_arkctl_words[i]}
            fi
        else
            pos+=("$w")
        fi
    done

    local noun=${pos[0]} verb=${pos[1]} verbs= options=
    for c in "${!_arkctl_cmds[@]}"; do
        [[ "$c" == "$noun "* ]] && verbs+=" ${c#* }"
    done
    if [ -n "$noun" ] && [ -n "${_arkctl_cmds[$noun]+set}" ]; then
        options=${_arkctl_cmds[$noun]}
    elif [ -n "${_arkctl_cmds["$noun $verb"]+set}" ]; then
        options=${_arkctl_cmds["$noun $verb"]}
    fi

    if [ -n "$opt" ]; then
        case "$opt" in
            -o|--output)
                if [ "$noun $verb" = "bundle create" ]; then
                    compopt -o filenames 2>/dev/null
                    COMPREPLY=($(compgen -f -- "$cur"))
                elif [ "$noun $verb" = "usage report" ]; then
                    COMPREPLY=($(compgen -W "table json csv" -- "$cur"))
                else
                    COMPREPLY=($(compgen -W "table json" -- "$cur"))
                fi ;;
            --tenant)
                COMPREPLY=($(compgen -W "$(_arkctl_names tenant)" -- "$cur")) ;;
            --gpu)
                COMPREPLY=($(compgen -W "$(_arkctl_accelerators)" -- "$cur")) ;;
            --image|--kernel|--initrd|--key|--trust-dir)
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur")) ;;
            --kind)
                COMPREPLY=($(compgen -W "model image update container-image" -- "$cur")) ;;
            --compress)
                COMPREPLY=($(compgen -W "none zstd xz" -- "$cur")) ;;
            *)
                COMPREPLY=() ;;
        esac
        return 0
    fi

    # 'arkctl help NOUN VERB': the command words only.
    if [ "$noun" = help ]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=($(compgen -W "$_arkctl_global" -- "$cur"))
        elif [ ${#pos[@]} -eq 1 ]; then
            COMPREPLY=($(compgen -W "$_arkctl_nouns" -- "$cur"))
        elif [ ${#pos[@]} -eq 2 ]; then
            verbs=
            for c in "${!_arkctl_cmds[@]}"; do
                [[ "$c" == "${pos[1]} "* ]] && verbs+=" ${c#* }"
            done
            COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        fi
        return 0
    fi

    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$_arkctl_global $options" -- "$cur"))
        return 0
    fi

    case ${#pos[@]} in
        0)
            COMPREPLY=($(compgen -W "$_arkctl_nouns" -- "$cur")) ;;
        1)
            COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
        2)
            case "$noun $verb" in
                "tenant show"|"tenant delete")
                    COMPREPLY=($(compgen -W "$(_arkctl_names tenant)" -- "$cur")) ;;
                "host check"|"accelerator reserve"|"accelerator quarantine"|"accelerator release")
                    COMPREPLY=($(compgen -W "$(_arkctl_accelerators)" -- "$cur")) ;;
                "vm show"|"vm start"|"vm stop"|"vm delete"|"vm console")
                    COMPREPLY=($(compgen -W "$(_arkctl_names vm)" -- "$cur")) ;;
                "image show"|"image delete")
                    COMPREPLY=($(compgen -W "$(_arkctl_names image | sort -u)" -- "$cur")) ;;
                "vm gpu"|"vm network")
                    COMPREPLY=($(compgen -W "add remove" -- "$cur")) ;;
                "tenant member")
                    COMPREPLY=($(compgen -W "add remove list" -- "$cur")) ;;
                "tenant quota")
                    COMPREPLY=($(compgen -W "set show" -- "$cur")) ;;
            esac ;;
        3)
            [ "$noun $verb" = "vm gpu" ] || [ "$noun $verb" = "vm network" ] &&
                COMPREPLY=($(compgen -W "$(_arkctl_names vm)" -- "$cur"))
            case "$noun $verb" in
                "tenant member"|"tenant quota")
                    COMPREPLY=($(compgen -W "$(_arkctl_names tenant)" -- "$cur")) ;;
            esac ;;
        *)
            [ "$noun $verb" = "tenant quota" ] &&
                COMPREPLY=($(compgen -W "gpus= gpu-memory= vcpus= memory= disk= instances= networks= forwards=" -- "$cur")) ;;
    esac
    return 0
}

complete -F _arkctl arkctl
