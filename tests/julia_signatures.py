#!/usr/bin/env python3
"""Checks the Julia binding (bindings/julia/HessFree/src/*.jl) against the C
header (include/hessfree.h), so the binding cannot drift from the C API
silently. No Julia runtime is needed (none is installed in CI).

Checked:
  * every `ccall((:name, libhessfree), Ret, (Args...,), args...)`: the
    function exists in the header, the return type and each argument type map
    to the C types (table below), and as many arguments are passed as types
    are declared;
  * every function of the header is called by at least one ccall;
  * every `@cfunction(_cb_<field>, Ret, (Args...,))` matches the C callback it
    is stored in (a function-pointer field of `hf_objective_callbacks`, or
    `hf_progress_fn` for `_cb_progress`), and the Julia method's annotated
    argument and return types equal the @cfunction's;
  * the Julia structs mirroring C structs (`HfIterationReport` for
    `hf_iteration_report`, ...) have the same fields in the same order with
    mapped types, and every C struct has a mirror;
  * every `const HF_... = T(value)` equals the C enum constant, and every C
    enum constant is defined.

Usage: julia_signatures.py [--header PATH] [--julia DIR]
Exit status 0 if all is well, 1 with one line per problem otherwise.
"""
import argparse
import os
import re
import sys

# ---------------------------------------------------------------------------
# C side


def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


class CType:
    """A C type reduced to what matters for the mapping: the base name
    (`float`, `char`, `hf_net`, ...), whether it is a struct/enum/typedef,
    the pointer depth, and whether the pointee is const."""

    def __init__(self, base, kind, depth, const):
        self.base, self.kind, self.depth, self.const = base, kind, depth, const

    def __str__(self):
        prefix = "const " if self.const else ""
        kind = self.kind + " " if self.kind in ("struct", "enum") else ""
        return f"{prefix}{kind}{self.base}{'*' * self.depth}"


def parse_c_decl(decl, named=True):
    """`const struct hf_net *net` -> (CType, "net"). With named=False there
    is no trailing name (return types)."""
    tokens = re.findall(r"[A-Za-z_]\w*|\*", decl)
    name = None
    if named:
        if not tokens or tokens[-1] == "*":
            raise ValueError(f"cannot parse C declaration '{decl.strip()}'")
        name = tokens.pop()
    depth = tokens.count("*")
    words = [t for t in tokens if t != "*"]
    const = "const" in words
    words = [w for w in words if w != "const"]
    kind = "plain"
    if words and words[0] in ("struct", "enum"):
        kind = words.pop(0)
    if len(words) != 1:
        raise ValueError(f"cannot parse C declaration '{decl.strip()}'")
    return CType(words[0], kind, depth, const), name


def split_top(text, sep=","):
    """Splits at `sep` outside (), {} and []."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_params(text):
    text = text.strip()
    if text in ("", "void"):
        return []
    return [parse_c_decl(p) for p in split_top(text)]


class Header:
    def __init__(self, path):
        raw = open(path, encoding="utf-8").read()
        text = strip_c_comments(raw)
        self.enums = {}  # constant -> value
        self.enum_types = set()
        for m in re.finditer(r"typedef\s+enum\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", text, re.S):
            self.enum_types.add(m.group(1))
            for name, value in re.findall(r"(\w+)\s*=\s*(-?\d+)", m.group(2)):
                self.enums[name] = int(value)
        self.opaque = set(re.findall(r"typedef\s+struct\s+(\w+)\s+\w+\s*;", text))
        self.structs = {}  # name -> [(field, CType or ("fn", ret, params))]
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*\w+\s*;", text, re.S):
            fields = []
            for decl in [d.strip() for d in m.group(2).split(";") if d.strip()]:
                fn = re.match(r"(.*?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)\s*$", decl, re.S)
                if fn:
                    ret, _ = parse_c_decl(fn.group(1), named=False)
                    fields.append((fn.group(2), ("fn", ret, parse_params(fn.group(3)))))
                else:
                    ctype, name = parse_c_decl(decl)
                    fields.append((name, ctype))
            self.structs[m.group(1)] = fields
        self.fn_typedefs = {}  # typedef name -> (ret, params)
        for m in re.finditer(r"typedef\s+([^;{}]*?)\(\s*\*\s*(\w+)\s*\)\s*\(([^;]*?)\)\s*;", text, re.S):
            ret, _ = parse_c_decl(m.group(1), named=False)
            self.fn_typedefs[m.group(2)] = (ret, parse_params(m.group(3)))
        block = re.search(r'extern\s+"C"\s*\{(.*)\n#ifdef\s+__cplusplus\s*\n\}', text, re.S)
        if not block:
            raise SystemExit(f"{path}: no extern \"C\" block found")
        self.functions = {}  # name -> (ret, [(CType, param name)])
        body = re.sub(r"^\s*#[^\n]*", " ", block.group(1), flags=re.M)  # preprocessor lines
        for decl in body.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            m = re.match(r"(.*?)\b(hf_\w+)\s*\((.*)\)$", decl)
            if not m:
                raise SystemExit(f"{path}: cannot parse declaration '{decl}'")
            ret, _ = parse_c_decl(m.group(1), named=False)
            self.functions[m.group(2)] = (ret, parse_params(m.group(3)))


def julia_struct_name(c_name):
    """hf_iteration_report -> HfIterationReport."""
    return "".join(w.capitalize() for w in c_name.split("_"))


SCALARS = {
    "size_t": {"Csize_t"},
    "int": {"Cint", "Int32"},
    "int32_t": {"Int32", "Cint"},
    "int64_t": {"Int64"},
    "uint32_t": {"UInt32", "Cuint"},
    "uint64_t": {"UInt64"},
    "double": {"Cdouble", "Float64"},
    "float": {"Cfloat", "Float32"},
    "bool": {"Bool"},
}


def allowed_julia(ctype, header, role):
    """The Julia spellings accepted for `ctype`. `role` is "arg", "ret",
    "field" or "callback" (callback arguments: Ptr only, no Ref)."""
    refs = ("Ptr",) if role in ("field", "callback") else ("Ptr", "Ref")

    def pointers(inner):
        return {f"{r}{{{i}}}" for r in refs for i in inner}

    base, depth = ctype.base, ctype.depth
    if ctype.kind == "enum" or base in header.enum_types:
        if depth == 0:
            return {"Cint"}
        if depth == 1:
            return pointers({"Cint"})
    if base in header.fn_typedefs and depth == 0:
        return {"Ptr{Cvoid}"}
    if base == "void":
        if depth == 0:
            return {"Cvoid", "Nothing"} if role == "ret" else set()
        if depth == 1:
            return {"Ptr{Cvoid}"}
    if base == "char":
        if depth == 1:
            if ctype.const:
                return {"Cstring", "Ptr{UInt8}", "Ptr{Cchar}"}
            return {"Ptr{UInt8}", "Ptr{Cchar}"}
        if depth == 2 and ctype.const:
            return pointers({"Cstring", "Ptr{UInt8}"})
    if base in SCALARS:
        if depth == 0:
            return SCALARS[base]
        if depth == 1:
            return pointers(SCALARS[base])
    if base in header.opaque and base not in header.structs:
        if depth == 1:
            return {"Ptr{Cvoid}"}
        if depth == 2:
            return pointers({"Ptr{Cvoid}"})
    if base in header.structs and depth == 1:
        return pointers({julia_struct_name(base)})
    return set()


# ---------------------------------------------------------------------------
# Julia side


def blank_strings_and_comments(text):
    """Replaces the contents of string literals and comments by spaces (same
    length, newlines kept), so later patterns see only code."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("#=", i):
            j = text.find("=#", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text[i] == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append('"""' + re.sub(r"[^\n]", " ", text[i + 3:j - 3]) + '"""')
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + " " * (j - i - 1) + '"')
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def balanced(text, open_index):
    """The text between the parenthesis at `open_index` and its match."""
    depth = 0
    for j in range(open_index, len(text)):
        if text[j] in "({[":
            depth += 1
        elif text[j] in ")}]":
            depth -= 1
            if depth == 0:
                return text[open_index + 1:j], j
    raise ValueError("unbalanced parentheses")


def norm(julia_type):
    return re.sub(r"\s+", "", julia_type)


def type_tuple(text):
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    inner = text[1:-1].strip()
    if not inner:
        return []
    parts = split_top(inner)
    if parts and parts[-1] == "":
        parts.pop()
    return [norm(p) for p in parts]


class Problems:
    def __init__(self):
        self.lines = []

    def add(self, where, message):
        self.lines.append(f"{where}: {message}")


def line_of(text, index):
    return text.count("\n", 0, index) + 1


def check_ccalls(header, sources, problems):
    called, count = set(), 0
    for path, code in sources:
        for m in re.finditer(r"(?<![\w@.])ccall\s*\(", code):
            where = f"{path}:{line_of(code, m.start())}"
            body, _ = balanced(code, m.end() - 1)
            parts = split_top(body)
            if len(parts) < 3:
                problems.add(where, "ccall with fewer than 3 arguments")
                continue
            target = re.fullmatch(r"\(\s*:(\w+)\s*,\s*(\w+)\s*\)", parts[0].strip())
            if not target:
                problems.add(where, f"ccall target {parts[0]!r} is not (:name, libhessfree)")
                continue
            name, lib = target.groups()
            if lib != "libhessfree":
                problems.add(where, f"{name}: library is {lib}, not libhessfree")
            count += 1
            called.add(name)
            if name not in header.functions:
                problems.add(where, f"{name}: no such function in the header")
                continue
            ret, params = header.functions[name]
            jret = norm(parts[1])
            ok = allowed_julia(ret, header, "ret")
            if jret not in ok:
                problems.add(where, f"{name}: return type {jret} does not match C '{ret}' "
                                    f"(expected one of {sorted(ok)})")
            types = type_tuple(parts[2])
            if types is None:
                problems.add(where, f"{name}: argument types {parts[2]!r} are not a literal tuple")
                continue
            if len(types) != len(params):
                problems.add(where, f"{name}: {len(types)} argument types, the header has "
                                    f"{len(params)} parameters")
            for k, (jt, (ct, pname)) in enumerate(zip(types, params), start=1):
                ok = allowed_julia(ct, header, "arg")
                if jt not in ok:
                    problems.add(where, f"{name}: argument {k} ({pname}) is {jt}, C has '{ct}' "
                                        f"(expected one of {sorted(ok)})")
            passed = len([p for p in parts[3:] if p])
            if passed != len(types):
                problems.add(where, f"{name}: {passed} arguments passed for {len(types)} types")
    for name in sorted(set(header.functions) - called):
        problems.add("binding", f"{name}: declared in the header but never called (no ccall)")
    return count


def julia_functions(sources):
    """name -> (argument types, return type) from `function name(a::T, ...)::R`."""
    found = {}
    for _, code in sources:
        for m in re.finditer(r"\bfunction\s+(\w+)\s*\(", code):
            args, end = balanced(code, m.end() - 1)
            rest = re.match(r"\s*::\s*([\w{}]+)", code[end + 1:])
            types = []
            for a in split_top(args):
                if a:
                    t = re.match(r"\w+\s*::\s*(.+)$", a, re.S)
                    types.append(norm(t.group(1)) if t else None)
            found[m.group(1)] = (types, norm(rest.group(1)) if rest else None)
    return found


def check_cfunctions(header, sources, problems):
    targets = {}
    for struct, fields in header.structs.items():
        for field, ftype in fields:
            if isinstance(ftype, tuple):
                targets[f"_cb_{field}"] = (f"{struct}.{field}", ftype[1], ftype[2])
    if "hf_progress_fn" in header.fn_typedefs:
        ret, params = header.fn_typedefs["hf_progress_fn"]
        targets["_cb_progress"] = ("hf_progress_fn", ret, params)
    defined = julia_functions(sources)
    count = 0
    for path, code in sources:
        for m in re.finditer(r"@cfunction\s*\(", code):
            where = f"{path}:{line_of(code, m.start())}"
            parts = split_top(balanced(code, m.end() - 1)[0])
            if len(parts) != 3:
                problems.add(where, "@cfunction needs (function, return type, argument types)")
                continue
            fname = parts[0].strip()
            count += 1
            if fname not in targets:
                problems.add(where, f"@cfunction({fname}): not named _cb_<callback field> of a "
                                    f"C callback ({', '.join(sorted(targets))})")
                continue
            cname, ret, params = targets[fname]
            jret, types = norm(parts[1]), type_tuple(parts[2])
            if jret not in allowed_julia(ret, header, "callback"):
                problems.add(where, f"{fname}: return type {jret} does not match {cname}'s '{ret}'")
            if types is None or len(types) != len(params):
                problems.add(where, f"{fname}: {0 if types is None else len(types)} argument "
                                    f"types, {cname} has {len(params)}")
                continue
            for k, (jt, (ct, pname)) in enumerate(zip(types, params), start=1):
                ok = allowed_julia(ct, header, "callback")
                if jt not in ok:
                    problems.add(where, f"{fname}: argument {k} ({pname}) is {jt}, {cname} has "
                                        f"'{ct}' (expected one of {sorted(ok)})")
            if fname not in defined:
                problems.add(where, f"{fname}: no `function {fname}(...)` definition")
            elif defined[fname] != (types, jret):
                problems.add(where, f"{fname}: the method is annotated {defined[fname]}, the "
                                    f"@cfunction says {(types, jret)}")
    return count


def check_structs(header, sources, problems):
    julia = {}
    for path, code in sources:
        for m in re.finditer(r"^\s*(?:mutable\s+)?struct\s+(Hf\w+)\s*\n(.*?)^\s*end\b",
                             code, re.S | re.M):
            fields = re.findall(r"^\s*(\w+)\s*::\s*(\S+)\s*$", m.group(2), re.M)
            julia[m.group(1)] = (f"{path}:{line_of(code, m.start(1))}",
                                 [(f, norm(t)) for f, t in fields])
    for cname, cfields in header.structs.items():
        jname = julia_struct_name(cname)
        if jname not in julia:
            problems.add("binding", f"{cname}: no Julia struct {jname} mirrors it")
            continue
        where, jfields = julia.pop(jname)
        if [f for f, _ in jfields] != [f for f, _ in cfields]:
            problems.add(where, f"{jname}: fields {[f for f, _ in jfields]} differ from "
                                f"{cname}'s {[f for f, _ in cfields]} (names or order)")
            continue
        for (fname, jt), (_, ct) in zip(jfields, cfields):
            ok = {"Ptr{Cvoid}"} if isinstance(ct, tuple) else allowed_julia(ct, header, "field")
            if jt not in ok:
                problems.add(where, f"{jname}.{fname} is {jt}, {cname} has "
                                    f"'{'function pointer' if isinstance(ct, tuple) else ct}' "
                                    f"(expected one of {sorted(ok)})")
    for jname, (where, _) in julia.items():
        problems.add(where, f"{jname}: no C struct of that name in the header")
    return len(header.structs)


def check_constants(header, sources, problems):
    seen = {}
    for path, code in sources:
        for m in re.finditer(r"^\s*const\s+(HF_\w+)\s*=\s*(\w+)\((-?\d+)\)", code, re.M):
            name, value = m.group(1), int(m.group(3))
            where = f"{path}:{line_of(code, m.start(1))}"
            seen[name] = value
            if name not in header.enums:
                problems.add(where, f"{name}: no such constant in the header")
            elif header.enums[name] != value:
                problems.add(where, f"{name} = {value}, the header has {header.enums[name]}")
    for name in sorted(set(header.enums) - set(seen)):
        problems.add("binding", f"{name}: C enum constant not defined in the binding")
    return len(seen)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--header", default=os.path.join(root, "include", "hessfree.h"))
    ap.add_argument("--julia", default=os.path.join(root, "bindings", "julia", "HessFree", "src"))
    args = ap.parse_args()
    header = Header(args.header)
    files = sorted(f for f in os.listdir(args.julia) if f.endswith(".jl"))
    if not files:
        raise SystemExit(f"no .jl files in {args.julia}")
    sources = []
    for f in files:
        path = os.path.join(args.julia, f)
        sources.append((path, blank_strings_and_comments(open(path, encoding="utf-8").read())))
    problems = Problems()
    n_ccalls = check_ccalls(header, sources, problems)
    n_cfun = check_cfunctions(header, sources, problems)
    n_structs = check_structs(header, sources, problems)
    n_consts = check_constants(header, sources, problems)
    for line in problems.lines:
        print("MISMATCH " + line)
    print(f"julia signatures: {n_ccalls} ccalls covering {len(header.functions)} C functions, "
          f"{n_cfun} @cfunctions, {n_structs} structs, {n_consts} constants; "
          f"{len(problems.lines)} problems")
    return 1 if problems.lines else 0


if __name__ == "__main__":
    sys.exit(main())
