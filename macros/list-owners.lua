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
-- So that caches follow their sources, it also reads the spec's other %files sections: what
-- the owner's section %excludes and what another package's section lists (a file, or a
-- directory and all below it; not a %dir alone) is handed on as BRP_PYC_LIST_LEFT_ALONE, one
-- "LIST<TAB>GLOB" line each: brp-pyc leaves the caches there to whoever lists them, as an
-- unsplit build does. A line of the owner's section that lists caches by hand (__pycache__,
-- .pyc) is handed on as BRP_PYC_LIST_BY_HAND, "LIST<TAB>LINE".
brp_pyc_list_owners = brp_pyc_list_owners or { owners = {}, order = {}, busy = false, left = {}, by_hand = {} }
local M = brp_pyc_list_owners

-- The words of a %files line, a %{...} (nested too) and a "..." kept whole.
local function words(line)
    local out, word, depth, quoted = {}, {}, 0, false
    local i = 1
    while i <= #line do
        local c = line:sub(i, i)
        if c == "%" and line:sub(i + 1, i + 1) == "{" then
            depth = depth + 1
            word[#word + 1] = "%{"
            i = i + 1
        elseif c == "}" and depth > 0 then
            depth = depth - 1
            word[#word + 1] = c
        elseif c == '"' then
            quoted = not quoted
            word[#word + 1] = c
        elseif c:match("%s") and depth == 0 and not quoted then
            if #word > 0 then
                out[#out + 1] = table.concat(word)
                word = {}
            end
        else
            word[#word + 1] = c
        end
        i = i + 1
    end
    if #word > 0 then
        out[#out + 1] = table.concat(word)
    end
    return out
end

-- The lines of the file rpm is parsing and the number of the line it is at, if they can be read.
local function current_file()
    local file, lineno = rpm.expand("%{?__file_name}"), tonumber(rpm.expand("%{?__file_lineno}"))
    if file == "" or not lineno then
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
            if text == "%files" or text:match("^%%files%s") then
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

-- The paths a line of a %files section lists, expanded: none for a %dir (it owns the
-- directory alone) or an -f list; each absolute word after the directives otherwise.
local function listed_paths(text)
    local expanded = rpm.expand(text)
    local stripped = expanded:gsub("%%%a+%b()", " ")
    local paths, is_dir = {}, false
    for _, word in ipairs(words(stripped)) do
        if word == "%dir" then
            is_dir = true
        end
        local path = word:gsub('^"(.*)"$', "%1")
        if path:sub(1, 1) == "/" then
            paths[#paths + 1] = path
        end
    end
    if is_dir then
        return {}, expanded
    end
    return paths, expanded
end

-- Records, for `lists` owned by the section starting at line `first`, what the other
-- sections list and what this one excludes, and this one's lines that list caches by hand.
local function record_neighbours(lines, first, lists)
    local function each_list(into, value)
        for _, list in ipairs(lists) do
            into[#into + 1] = list .. "\t" .. value
        end
    end
    for _, section in ipairs(files_sections(lines)) do
        local own = section.first == first
        for _, text in ipairs(section.body) do
            local excluded = text:match("^%s*%%exclude%s") ~= nil
            if excluded and own then
                -- The owner leaves these out: so do its bytecode subpackages.
                local paths = listed_paths((text:gsub("%%exclude", "", 1)))
                for _, path in ipairs(paths) do
                    each_list(M.left, path)
                end
            elseif own then
                local _, expanded = listed_paths(text)
                if expanded:find("__pycache__", 1, true) or expanded:find("%.pyc") then
                    each_list(M.by_hand, (expanded:gsub("^%s+", "")))
                end
            elseif not excluded then
                -- Another package lists these: their caches are its own.
                for _, path in ipairs(listed_paths(text)) do
                    each_list(M.left, path)
                end
            end
        end
    end
    posix.setenv("BRP_PYC_LIST_LEFT_ALONE", table.concat(M.left, "\n"))
    posix.setenv("BRP_PYC_LIST_BY_HAND", table.concat(M.by_hand, "\n"))
end

local function record_line()
    local lines, lineno = current_file()
    local text = lines and lines[lineno]
    if not text then
        return
    end
    local w = words(text)
    if w[1] ~= "%files" then
        return
    end
    local owner, lists, i = nil, {}, 2
    while i <= #w do
        local word = w[i]
        if word == "-n" and w[i + 1] then
            owner = rpm.expand(w[i + 1])
            i = i + 2
        elseif word == "-f" and w[i + 1] then
            lists[#lists + 1] = w[i + 1]
            i = i + 2
        elseif word:sub(1, 1) == "-" then
            i = i + 1
        else
            owner = rpm.expand("%{name}") .. "-" .. rpm.expand(word)
            i = i + 1
        end
    end
    owner = owner or rpm.expand("%{name}")
    local recorded = {}
    for _, list in ipairs(lists) do
        if list:find("pyproject_files", 1, true) or list:find("py_bytecode_", 1, true) then
            local path = rpm.expand(list):gsub('^"(.*)"$', "%1")
            if M.owners[path] == nil then
                M.order[#M.order + 1] = path
                recorded[#recorded + 1] = path
            end
            M.owners[path] = owner
        end
    end
    if #recorded > 0 then
        record_neighbours(lines, lineno, recorded)
    end
    -- rpmbuild --define '_brp_pyc_show_owners 1' (or rpmspec -P) says what was recorded.
    if rpm.expand("%{?_brp_pyc_show_owners}") ~= "" then
        for _, path in ipairs(recorded) do
            io.stderr:write("brp-pyc: the owner of " .. path .. " is " .. owner .. "\n")
        end
        for _, line in ipairs(M.left) do
            io.stderr:write("brp-pyc: left to another package or excluded: " .. line .. "\n")
        end
        for _, line in ipairs(M.by_hand) do
            io.stderr:write("brp-pyc: caches listed by hand: " .. line .. "\n")
        end
    end
    local lines = {}
    for _, path in ipairs(M.order) do
        lines[#lines + 1] = path .. "\t" .. M.owners[path]
    end
    posix.setenv("BRP_PYC_LIST_OWNERS", table.concat(lines, "\n"))
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
