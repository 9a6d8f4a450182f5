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
brp_pyc_list_owners = brp_pyc_list_owners or { owners = {}, order = {}, busy = false }
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

-- The text of the line rpm is parsing, if it can be read.
local function current_line()
    local file, lineno = rpm.expand("%{?__file_name}"), tonumber(rpm.expand("%{?__file_lineno}"))
    if file == "" or not lineno then
        return nil
    end
    local f = io.open(file, "r")
    if not f then
        return nil
    end
    local n, found = 0, nil
    for text in f:lines() do
        n = n + 1
        if n == lineno then
            found = text
            break
        end
    end
    f:close()
    return found
end

-- Records the owner of every -f list of the %files line being parsed that names one of
-- brp-pyc's lists or %{pyproject_files}: -n NAME, a short NAME (%{name}-NAME), else %{name}.
-- Expanding those lists expands this again: `busy` stops it there.
local function record_line()
    local text = current_line()
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
    for _, list in ipairs(lists) do
        if list:find("pyproject_files", 1, true) or list:find("py_bytecode_", 1, true) then
            local path = rpm.expand(list):gsub('^"(.*)"$', "%1")
            if M.owners[path] == nil then
                M.order[#M.order + 1] = path
            end
            M.owners[path] = owner
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
