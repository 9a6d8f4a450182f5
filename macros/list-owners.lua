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
brp_pyc_list_owners = brp_pyc_list_owners or { owners = {}, order = {}, busy = false, left = {}, by_hand = {} }
local M = brp_pyc_list_owners
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

-- The %files sections of a spec: the number of each one's first line and the lines of its
-- body (conditionals and comments left out: both branches of an %if count, which can only
-- leave more caches alone).
local function files_sections(lines)
    local sections, current = {}, nil
    for n, text in ipairs(lines) do
        if starts_section(text) then
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

-- The paths a line of a %files section lists, expanded, without a trailing "/": none for a
-- %dir (it owns the directory alone); each absolute word after the directives otherwise.
local function listed_paths(text)
    local expanded = rpm.expand(text)
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
        return {}, expanded
    end
    return paths, expanded
end

-- Hands a table of "LIST" -> {values} on in the environment variable `name`.
local function hand_on(name, facts)
    local lines = {}
    for _, list in ipairs(M.order) do
        local values = facts[list]
        if values and #values > 0 then
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

-- Adds `value` to the values of `list` in `facts`, once.
local function add(facts, list, value)
    facts[list] = facts[list] or { seen = {} }
    local values = facts[list]
    if not values.seen[value] then
        values.seen[value] = true
        values[#values + 1] = value
    end
end

-- Records, for `lists` owned by the section starting at line `first`, what the owner's
-- section lists besides them or excludes and what the other sections list (left alone), and
-- the owner's lines that list caches by hand.
local function record_neighbours(lines, first, lists)
    for _, section in ipairs(files_sections(lines)) do
        local own = section.first == first
        for _, text in ipairs(section.body) do
            local excluded = text:match("^%s*%%exclude%s") ~= nil
            local paths, expanded = listed_paths(excluded and (text:gsub("%%exclude", "", 1)) or text)
            if own and not excluded and (expanded:find("__pycache__", 1, true) or expanded:find("%.pyc")) then
                local line = expanded:gsub("^%s+", ""):gsub("\t", " ")
                for _, list in ipairs(lists) do
                    add(M.by_hand, list, line)
                end
            elseif own or not excluded then
                -- The owner's own files (listed or excluded) and another package's: their
                -- caches go where the unsplit build sends them.
                for _, path in ipairs(paths) do
                    for _, list in ipairs(lists) do
                        add(M.left, list, path)
                    end
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
    -- rpmbuild --define '_brp_pyc_show_owners 1' (or rpmspec -P) says what was recorded.
    if rpm.expand("%{?_brp_pyc_show_owners}") ~= "" then
        for _, path in ipairs(recorded) do
            io.stderr:write("brp-pyc: the owner of " .. path .. " is " .. owner .. "\n")
            for _, value in ipairs(M.left[path] or {}) do
                io.stderr:write("brp-pyc: left to another package or to the owner's own line: " .. value .. "\n")
            end
            for _, value in ipairs(M.by_hand[path] or {}) do
                io.stderr:write("brp-pyc: caches listed by hand: " .. value .. "\n")
            end
        end
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
    end
end

M.record()
