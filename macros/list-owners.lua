-- brp-pyc: which package lists each file list brp-pyc takes over or writes, as rpm parses
-- the spec (installed as %{_rpmconfigdir}/brp-pyc/list-owners.lua, run by
-- %_brp_pyc_record_owner).
--
-- The caches of a list belong to the package whose %files line names the list with -f:
-- `%files -n python3-pyyaml -f %{pyproject_files}` in a spec named PyYAML. rpm expands the
-- brp step's command line (in %install) before it parses the %files lines, so the step
-- cannot be told; but rpm parses the whole spec before it runs %install, and a macro
-- expanded in a %files line can read that line (%{__file_name}, %{__file_lineno}). Each
-- list's owner is kept here and handed to the build's scripts, brp-pyc among them, in the
-- environment: BRP_PYC_LIST_OWNERS, one "LIST<TAB>OWNER" line per list.
--
-- So that caches follow their sources, it also reads the spec's %files sections: what the
-- owner's section lists besides the list (a file, or a directory and all below it; not a %dir
-- alone) or %excludes, and what another package's section lists, is handed on as
-- BRP_PYC_LIST_LEFT_ALONE, one "LIST<TAB>PATH<TAB>PATH..." line per list: brp-pyc leaves the
-- caches there to whoever lists them, as an unsplit build does. A line of the owner's section
-- that lists caches by hand (__pycache__, .pyc) is handed on as BRP_PYC_LIST_BY_HAND,
-- "LIST<TAB>LINE<TAB>LINE...". A variable that would pass MAX_VARIABLE bytes (the kernel
-- refuses an environment string past 128 KiB to every program rpm runs) holds
-- "LIST<TAB>*" instead: brp-pyc then knows it cannot follow that spec.
--
-- Run with the arguments "owns", NAME, ARG... (by %py_bytecode_owns NAME ARG... in a %files
-- section), it expands %NAME ARG... and hands rpm its lines with the bytecode taken over: a
-- "DIR/" line and a line of caches (".../__pycache__/*.cpython-314*.pyc") are left out, and
-- the owner's list, %{py_bytecode_owner_files}, lists DIR's tree with its caches as %ghost and
-- the caches the glob matches as %ghost; the split ships what both listed.
-- BRP_PYC_LIST_TAKEN_DIRS and BRP_PYC_LIST_TAKEN_GLOBS ("LIST<TAB>PATH...") hand them on; the
-- macro's other lines' paths join BRP_PYC_LIST_LEFT_ALONE, as the section's own lines do.
brp_pyc_list_owners = brp_pyc_list_owners or { owners = {}, order = {}, busy = false, left = {}, by_hand = {} }
local M = brp_pyc_list_owners
M.first = M.first or {}
M.taken_dirs = M.taken_dirs or {}
M.taken_globs = M.taken_globs or {}
local MAX_VARIABLE = 64 * 1024

-- The words of a line as rpm's option parser (popt) splits them: at white space, a "..." or
-- '...' kept whole without its quotes, a backslash keeping the next character.
local function words(line)
    local out, word, quote, has_word = {}, {}, nil, false
    local i = 1
    while i <= #line do
        local c = line:sub(i, i)
        if c == "\\" and i < #line then
            word[#word + 1] = line:sub(i + 1, i + 1)
            has_word = true
            i = i + 1
        elseif quote then
            if c == quote then
                quote = nil
            else
                word[#word + 1] = c
            end
        elseif c == '"' or c == "'" then
            quote, has_word = c, true
        elseif c:match("%s") then
            if has_word then
                out[#out + 1] = table.concat(word)
                word, has_word = {}, false
            end
        else
            word[#word + 1] = c
            has_word = true
        end
        i = i + 1
    end
    if has_word then
        out[#out + 1] = table.concat(word)
    end
    return out
end

-- The lines of the file rpm is parsing and the number of the line it is at, if they can be
-- read (a regular file: a spec read from a pipe is not read again here).
local function current_file()
    local file, lineno = rpm.expand("%{?__file_name}"), tonumber(rpm.expand("%{?__file_lineno}"))
    if file == "" or not lineno then
        return nil
    end
    local st = posix.stat(file)
    if not st or st.type ~= "regular" then
        return nil
    end
    local f = io.open(file, "r")
    if not f then
        return nil
    end
    local lines = {}
    for text in f:lines() do
        lines[#lines + 1] = text
    end
    f:close()
    return lines, lineno
end

-- The sections rpm starts at a line of their name (rpm's build/parseSpec.cc partList).
local SECTIONS = {}
for name in ([[package prep build install check clean preun postun pretrans posttrans
    preuntrans postuntrans pre post files changelog description triggerpostun triggerprein
    triggerun triggerin trigger verifyscript sepolicy filetriggerin filetrigger filetriggerun
    filetriggerpostun transfiletriggerin transfiletrigger transfiletriggerun
    transfiletriggerpostun end patchlist sourcelist generate_buildrequires conf]]):gmatch("%S+") do
    SECTIONS[name] = true
end

local function starts_section(text)
    local name = text:match("^%%(%a[%w_]*)")
    return name ~= nil and SECTIONS[name:lower()] == true
end

-- Whether a line of a %files section is a %py_bytecode_owns line, which records itself when
-- rpm expands it (its macro may be defined only further down the section).
local function is_owns_line(text)
    return text:find("py_bytecode_owns", 1, true) ~= nil
end

-- The %files sections of a spec: the number of each one's first line and the lines of its
-- body (conditionals, comments and macro definitions left out: both branches of an %if
-- count, which can only leave more caches alone; a %define's body is not a line of files).
local function files_sections(lines)
    local sections, current, in_definition = {}, nil, false
    for n, text in ipairs(lines) do
        local continued = text:match("\\$") ~= nil
        if in_definition then
            in_definition = continued
        elseif current and (text:match("^%s*%%define%s") or text:match("^%s*%%global%s")) then
            in_definition = continued
        elseif starts_section(text) then
            current = nil
            if text:match("^%%files$") or text:match("^%%files%s") then
                current = { first = n, body = {} }
                sections[#sections + 1] = current
            end
        elseif current and not text:match("^%s*#") and not text:match("^%s*%%if") and
            not text:match("^%s*%%else") and not text:match("^%s*%%elif") and not text:match("^%s*%%endif") then
            current.body[#current.body + 1] = text
        end
    end
    return sections
end

-- The paths one expanded line of a %files section lists, without a trailing "/", and whether
-- it is a %dir line: none for a %dir (it owns the directory alone); each absolute word after
-- the directives otherwise.
local function paths_of(expanded)
    local stripped = expanded:gsub("%%%a+%b()", " ")
    local paths, is_dir = {}, false
    for _, word in ipairs(words(stripped)) do
        if word == "%dir" then
            is_dir = true
        end
        if word:sub(1, 1) == "/" then
            local path = word:gsub("(.)/+$", "%1")
            paths[#paths + 1] = path
        end
    end
    if is_dir then
        return {}, true
    end
    return paths, false
end

-- Hands a table of "LIST" -> {values} on in the environment variable `name`.
local function hand_on(name, facts)
    local lines = {}
    for _, list in ipairs(M.order) do
        local values = facts[list]
        if M.failed then
            -- What the sections list is not known: brp-pyc must not guess.
            lines[#lines + 1] = list .. "\t*"
        elseif values and #values > 0 then
            local line = list .. "\t" .. table.concat(values, "\t")
            if #line > MAX_VARIABLE then
                line = list .. "\t*"
            end
            lines[#lines + 1] = line
        end
    end
    local text = table.concat(lines, "\n")
    if #text > MAX_VARIABLE then
        text = ""
        for _, list in ipairs(M.order) do
            text = text .. list .. "\t*\n"
        end
    end
    posix.setenv(name, text)
end

-- With rpmbuild --define '_brp_pyc_show_owners 1' (or rpmspec -P), says what was recorded:
-- one "brp-pyc: LABEL: VALUE" line per value.
local function showing()
    return rpm.expand("%{?_brp_pyc_show_owners}") ~= ""
end

local function show(label, values)
    if not showing() then
        return
    end
    for _, value in ipairs(values or {}) do
        io.stderr:write("brp-pyc: " .. label .. ": " .. value .. "\n")
    end
end

-- Adds `value` to the values of `list` in `facts`, once.
local function add(facts, list, value)
    facts[list] = facts[list] or { seen = {} }
    local values = facts[list]
    if not values.seen[value] then
        values.seen[value] = true
        values[#values + 1] = value
    end
end

-- Records one expanded line of a %files section for `lists`: of the owner's section (`own`)
-- a line of caches is by hand, else its paths (listed or excluded) are left alone; of another
-- section, what it lists (not excludes) is left alone.
local function record_line_of(own, line, lists)
    if line:match("^%s*#") then
        return
    end
    local excluded = line:match("^%s*%%exclude%s") ~= nil
    local paths, is_dir = paths_of(excluded and (line:gsub("%%exclude", "", 1)) or line)
    -- A %dir line owns the directory alone: `%dir .../__pycache__/` lists no cache.
    if own and not excluded and not is_dir and (line:find("__pycache__", 1, true) or line:find("%.pyc")) then
        local by_hand = line:gsub("^%s+", ""):gsub("\t", " ")
        for _, list in ipairs(lists) do
            add(M.by_hand, list, by_hand)
        end
    elseif own or not excluded then
        -- The owner's own files (listed or excluded) and another package's: their caches go
        -- where the unsplit build sends them.
        for _, path in ipairs(paths) do
            for _, list in ipairs(lists) do
                add(M.left, list, path)
            end
        end
    end
end

-- Records, for `lists` owned by the section starting at line `first`, what the owner's
-- section lists besides them or excludes and what the other sections list (left alone), and
-- the owner's lines that list caches by hand.
local function record_neighbours(lines, first, lists)
    for _, section in ipairs(files_sections(lines)) do
        local own = section.first == first
        for _, text in ipairs(section.body) do
            -- One line may expand to several (a macro listing many files).
            if not is_owns_line(text) then
                for line in rpm.expand(text):gmatch("[^\n]+") do
                    record_line_of(own, line, lists)
                end
            end
        end
    end
    hand_on("BRP_PYC_LIST_LEFT_ALONE", M.left)
    hand_on("BRP_PYC_LIST_BY_HAND", M.by_hand)
end

-- Whether `path` (expanded) is a list brp-pyc takes over or writes.
local function is_ours(path)
    local pyproject = rpm.expand("%{?_pyproject_files_base}")
    if pyproject ~= "" and (path == pyproject or path:sub(1, #pyproject + 1) == pyproject .. "-") then
        return true
    end
    local dir = rpm.expand("%{?_brp_pyc_lists_dir}")
    return dir ~= "" and (path == dir .. "/bytecode-owner.files" or path == dir .. "/bytecode-ghost.files")
end

-- Records the owner of every -f list of the %files line being parsed that is one of
-- brp-pyc's lists or %{pyproject_files}: -n NAME, a short NAME (%{name}-NAME), else %{name},
-- read from the line as rpm expands it (an option a macro writes counts). Expanding the line
-- expands this again: `busy` stops it there.
local function record_line()
    local lines, lineno = current_file()
    local text = lines and lines[lineno]
    if not text or not (text:match("^%%files$") or text:match("^%%files%s")) then
        return
    end
    local w = words(rpm.expand(text))
    if w[1] ~= "%files" then
        return
    end
    local owner, lists, i = nil, {}, 2
    while i <= #w do
        local word = w[i]
        if word == "-n" or word == "-f" then
            if word == "-n" then
                owner = w[i + 1]
            else
                lists[#lists + 1] = w[i + 1]
            end
            i = i + 2
        elseif word:sub(1, 2) == "-n" or word:sub(1, 2) == "-f" then
            -- popt takes -nNAME and -fFILE too.
            if word:sub(1, 2) == "-n" then
                owner = word:sub(3)
            else
                lists[#lists + 1] = word:sub(3)
            end
            i = i + 1
        elseif word:sub(1, 1) == "-" then
            i = i + 1
        else
            owner = rpm.expand("%{name}") .. "-" .. word
            i = i + 1
        end
    end
    owner = owner or rpm.expand("%{name}")
    local recorded = {}
    for _, path in ipairs(lists) do
        if path and is_ours(path) then
            if M.owners[path] == nil then
                M.order[#M.order + 1] = path
                recorded[#recorded + 1] = path
            end
            M.owners[path] = owner
            M.first[path] = lineno
        end
    end
    if #recorded == 0 then
        return
    end
    local owners = {}
    for _, path in ipairs(M.order) do
        owners[#owners + 1] = path .. "\t" .. M.owners[path]
    end
    posix.setenv("BRP_PYC_LIST_OWNERS", table.concat(owners, "\n"))
    record_neighbours(lines, lineno, recorded)
    for _, path in ipairs(recorded) do
        if showing() then
            io.stderr:write("brp-pyc: the owner of " .. path .. " is " .. owner .. "\n")
        end
        show("left to another package or to the owner's own line", M.left[path])
        show("caches listed by hand", M.by_hand[path])
    end
end

function M.record()
    if M.busy then
        return
    end
    M.busy = true
    local ok, err = pcall(record_line)
    M.busy = false
    if not ok then
        io.stderr:write("brp-pyc: warning: the owner of a file list was not recorded: " .. tostring(err) .. "\n")
        -- Half a record would hide what other lines list: say it is not known.
        M.failed = true
        pcall(hand_on, "BRP_PYC_LIST_LEFT_ALONE", M.left)
        pcall(hand_on, "BRP_PYC_LIST_BY_HAND", M.by_hand)
    end
end

-- The first line of the %files section around line `lineno`.
local function section_start(lines, lineno)
    for n = lineno, 1, -1 do
        local text = lines[n]
        if starts_section(text) then
            return (text:match("^%%files$") or text:match("^%%files%s")) and n or nil
        end
    end
    return nil
end

-- A line of a macro's expansion as %py_bytecode_owns hands it to rpm: a directory line
-- "DIR/" (one absolute path, no glob) and a line of caches (one absolute path in a __pycache__
-- directory ending in .pyc, globs allowed) taken over, any other line as it is;
-- inside a %if of the expansion (`conditional`), every line as it is: rpm, not this, decides
-- which branch counts. Returns the line for rpm and whether it was taken over.
local function take_over(line, list, conditional)
    local path = not conditional and line:match("^%s*(/%S*)%s*$")
    if path and path:match("./$") and not path:find("[%*%?%[{]") then
        add(M.taken_dirs, list, (path:gsub("/+$", "")))
        return "", true
    end
    if path and path:find("/__pycache__/[^/]*%.pyc$") then
        add(M.taken_globs, list, path)
        return "", true
    end
    record_line_of(true, line, { list })
    return line, false
end

-- %py_bytecode_owns NAME ARG...: %NAME ARG... with the bytecode of its lines taken over by the
-- owner's list of this section (see the top of this file).
function M.owns(args)
    if M.busy then
        -- Expanded while a %files line is recorded: it records itself when rpm reaches it.
        return ""
    end
    local name = args[1]
    if not name or not name:match("^[%w_]+$") then
        error("%py_bytecode_owns NAME [ARG...]: NAME, the macro whose lines it takes over, is missing or not a macro name", 0)
    end
    if rpm.expand("%{?" .. name .. ":1}") ~= "1" then
        error("%py_bytecode_owns: %" .. name .. " is not defined here", 0)
    end
    local list = rpm.expand("%{?_brp_pyc_lists_dir}") .. "/bytecode-owner.files"
    local lines, lineno = current_file()
    local start = lines and section_start(lines, lineno)
    if M.owners[list] == nil or start == nil or M.first[list] ~= start then
        error("%py_bytecode_owns: the %files line of its section must name the owner's list: %files ... -f %{py_bytecode_owner_files}", 0)
    end
    if rpm.expand("%{?_brp_pyc_split_args}") == "" then
        error("%py_bytecode_owns: the split is not asked for: %py_bytecode_split in %install", 0)
    end
    if rpm.expand("%{?__brp_python_hardlink}") == "" then
        error("%py_bytecode_owns: the spec sets %__brp_python_hardlink to nothing, so no brp step of brp-pyc runs: " ..
            "let %py_bytecode_split (which links the caches) take that line's place", 0)
    end
    local call = "%" .. name
    for i = 2, #args do
        -- rpm expanded the arguments already: a "%" left in them is a literal one.
        call = call .. " " .. args[i]:gsub("%%", "%%%%")
    end
    local out, depth, taken_any = {}, 0, false
    for line in (rpm.expand(call) .. "\n"):gmatch("([^\n]*)\n") do
        if line:match("^%s*%%if") then
            depth = depth + 1
        end
        local text, taken = take_over(line, list, depth > 0)
        out[#out + 1], taken_any = text, taken_any or taken
        if line:match("^%s*%%endif") and depth > 0 then
            depth = depth - 1
        end
    end
    if not taken_any then
        error("%py_bytecode_owns: %" .. name .. " lists no directory (DIR/) and no caches (.../__pycache__/*.pyc) " ..
            "outside an %if: there is nothing to take over", 0)
    end
    hand_on("BRP_PYC_LIST_LEFT_ALONE", M.left)
    hand_on("BRP_PYC_LIST_TAKEN_DIRS", M.taken_dirs)
    hand_on("BRP_PYC_LIST_TAKEN_GLOBS", M.taken_globs)
    show("taken over by the owner's list", M.taken_dirs[list])
    show("caches taken over by the owner's list", M.taken_globs[list])
    return table.concat(out, "\n")
end

local action = ...
if action == "owns" then
    print(M.owns({ select(2, ...) }))
else
    M.record()
end
