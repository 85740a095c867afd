"""Structural parse of a core WebAssembly binary (spec "Binary Format", MVP + common proposals).

Owns the section-by-section decoding into :class:`ParsedModule`: types, imports,
functions, tables, memories, tags, globals, exports, start, elements, data count, code,
data and custom sections (``name`` and ``producers`` decoded). Instruction bodies are
bounded and skipped, never decoded or executed. Malformed custom sections become
warnings (engines ignore them too); everything else raises ``WasmFormatError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmhub.wasm.binary import Reader
from wasmhub.wasm.errors import WasmFormatError

MAGIC = b"\x00asm"
VERSION_1 = b"\x01\x00\x00\x00"

SECTION_NAMES = {
    0: "custom",
    1: "type",
    2: "import",
    3: "function",
    4: "table",
    5: "memory",
    6: "global",
    7: "export",
    8: "start",
    9: "element",
    10: "code",
    11: "data",
    12: "datacount",
    13: "tag",
}
# Required order of the known sections (tag sits between memory and global).
SECTION_ORDER = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11]

VALTYPES = {
    0x7F: "i32",
    0x7E: "i64",
    0x7D: "f32",
    0x7C: "f64",
    0x7B: "v128",
    0x70: "funcref",
    0x6F: "externref",
}
REFTYPES = {0x70: "funcref", 0x6F: "externref"}
EXTERNAL_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def signature(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


@dataclass(frozen=True, slots=True)
class Limits:
    minimum: int
    maximum: int | None
    shared: bool = False
    is64: bool = False


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str
    kind: str
    type_index: int | None = None  # func and tag imports
    limits: Limits | None = None  # table and memory imports


@dataclass(frozen=True, slots=True)
class Export:
    name: str
    kind: str
    index: int


@dataclass(frozen=True, slots=True)
class Section:
    id: int
    name: str  # the custom section's own name for id 0
    offset: int  # offset of the section id byte
    size: int  # payload size


@dataclass
class ParsedModule:
    types: list[FuncType] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)  # type index per defined function
    tables: list[Limits] = field(default_factory=list)
    memories: list[Limits] = field(default_factory=list)
    tags: int = 0
    globals: int = 0
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    elements: int = 0
    data_count: int | None = None
    code_bodies: int = 0
    data_segments: int = 0
    sections: list[Section] = field(default_factory=list)
    module_name: str | None = None
    function_names: dict[int, str] = field(default_factory=dict)
    producers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    custom_sections: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def imported_count(self, kind: str) -> int:
        return sum(1 for imp in self.imports if imp.kind == kind)

    def func_type(self, func_index: int) -> FuncType | None:
        """The type of function ``func_index`` (imports first, then defined functions)."""
        func_imports = [imp for imp in self.imports if imp.kind == "func"]
        if func_index < len(func_imports):
            type_index = func_imports[func_index].type_index
        else:
            local = func_index - len(func_imports)
            if local >= len(self.functions):
                return None
            type_index = self.functions[local]
        if type_index is None or type_index >= len(self.types):
            return None
        return self.types[type_index]


def parse_module(data: bytes) -> ParsedModule:
    if len(data) < 8:
        raise WasmFormatError(
            f"file is {len(data)} bytes, shorter than the 8-byte header", len(data)
        )
    if data[:4] != MAGIC:
        raise WasmFormatError("missing the \\0asm magic number", 0)
    if data[4:8] != VERSION_1:
        if data[6:8] == b"\x01\x00":
            raise WasmFormatError("this is a Wasm component, not a core module", 4)
        raise WasmFormatError(f"unsupported binary version {data[4:8].hex()}", 4)
    module = ParsedModule()
    reader = Reader(data, 8)
    last_rank = -1
    while not reader.at_end():
        offset = reader.pos
        section_id = reader.u8()
        size = reader.u32()
        body = reader.sub(size)
        if section_id == 0:
            _parse_custom(body, module, offset, size)
            continue
        if section_id not in SECTION_NAMES:
            raise WasmFormatError(f"unknown section id {section_id}", offset)
        rank = SECTION_ORDER.index(section_id)
        if rank <= last_rank:
            raise WasmFormatError(
                f"{SECTION_NAMES[section_id]} section is duplicated or out of order", offset
            )
        last_rank = rank
        module.sections.append(Section(section_id, SECTION_NAMES[section_id], offset, size))
        _SECTION_PARSERS[section_id](body, module)
        if not body.at_end():
            raise body.fail(f"{SECTION_NAMES[section_id]} section has trailing bytes")
    _check_consistency(module, len(data))
    return module


def _check_consistency(module: ParsedModule, size: int) -> None:
    if len(module.functions) != module.code_bodies:
        raise WasmFormatError(
            f"function section declares {len(module.functions)} functions "
            f"but the code section has {module.code_bodies} bodies",
            size,
        )
    if module.data_count is not None and module.data_count != module.data_segments:
        raise WasmFormatError(
            f"data count section says {module.data_count} segments "
            f"but the data section has {module.data_segments}",
            size,
        )


def _valtype(r: Reader) -> str:
    start = r.pos
    code = r.u8()
    if code not in VALTYPES:
        raise r.fail(f"unknown value type 0x{code:02x}", start)
    return VALTYPES[code]


def _reftype(r: Reader) -> str:
    start = r.pos
    code = r.u8()
    if code not in REFTYPES:
        raise r.fail(f"unknown reference type 0x{code:02x}", start)
    return REFTYPES[code]


def _limits(r: Reader) -> Limits:
    start = r.pos
    flags = r.u8()
    if flags > 7:
        raise r.fail(f"invalid limits flags 0x{flags:02x}", start)
    is64 = bool(flags & 4)
    read = r.u64 if is64 else r.u32
    minimum = read()
    maximum = read() if flags & 1 else None
    if maximum is not None and maximum < minimum:
        raise r.fail(f"limits maximum {maximum} is below minimum {minimum}", start)
    return Limits(minimum, maximum, shared=bool(flags & 2), is64=is64)


def _parse_types(r: Reader, module: ParsedModule) -> None:
    for _ in range(r.count(3)):
        start = r.pos
        form = r.u8()
        if form != 0x60:
            raise r.fail(f"unsupported type form 0x{form:02x} (only function types)", start)
        params = tuple(_valtype(r) for _ in range(r.count()))
        results = tuple(_valtype(r) for _ in range(r.count()))
        module.types.append(FuncType(params, results))


def _type_index(r: Reader, module: ParsedModule) -> int:
    start = r.pos
    index = r.u32()
    if index >= len(module.types):
        raise r.fail(f"type index {index} out of range ({len(module.types)} types)", start)
    return index


def _parse_imports(r: Reader, module: ParsedModule) -> None:
    for _ in range(r.count(4)):
        mod_name = r.name()
        field_name = r.name()
        start = r.pos
        kind_code = r.u8()
        kind = EXTERNAL_KINDS.get(kind_code)
        if kind == "func":
            module.imports.append(Import(mod_name, field_name, kind, _type_index(r, module)))
        elif kind == "table":
            _reftype(r)
            module.imports.append(Import(mod_name, field_name, kind, limits=_limits(r)))
        elif kind == "memory":
            module.imports.append(Import(mod_name, field_name, kind, limits=_limits(r)))
        elif kind == "global":
            _valtype(r)
            _mutability(r)
            module.imports.append(Import(mod_name, field_name, kind))
        elif kind == "tag":
            _tag_type(r, module)
            module.imports.append(Import(mod_name, field_name, kind))
        else:
            raise r.fail(f"unknown import kind 0x{kind_code:02x}", start)


def _mutability(r: Reader) -> None:
    start = r.pos
    if r.u8() not in (0, 1):
        raise r.fail("global mutability must be 0 or 1", start)


def _tag_type(r: Reader, module: ParsedModule) -> int:
    start = r.pos
    if r.u8() != 0:
        raise r.fail("tag attribute must be 0 (exception)", start)
    return _type_index(r, module)


def _parse_functions(r: Reader, module: ParsedModule) -> None:
    module.functions = [_type_index(r, module) for _ in range(r.count())]


def _parse_tables(r: Reader, module: ParsedModule) -> None:
    for _ in range(r.count(2)):
        _reftype(r)
        module.tables.append(_limits(r))


def _parse_memories(r: Reader, module: ParsedModule) -> None:
    module.memories = [_limits(r) for _ in range(r.count(2))]


def _parse_tags(r: Reader, module: ParsedModule) -> None:
    n = r.count(2)
    for _ in range(n):
        _tag_type(r, module)
    module.tags = n


def _parse_globals(r: Reader, module: ParsedModule) -> None:
    n = r.count(3)
    for _ in range(n):
        _valtype(r)
        _mutability(r)
        _const_expr(r)
    module.globals = n


def _parse_exports(r: Reader, module: ParsedModule) -> None:
    seen: set[str] = set()
    for _ in range(r.count(3)):
        start = r.pos
        name = r.name()
        if name in seen:
            raise r.fail(f"duplicate export name {name!r}", start)
        seen.add(name)
        kind_pos = r.pos
        kind_code = r.u8()
        if kind_code not in EXTERNAL_KINDS:
            raise r.fail(f"unknown export kind 0x{kind_code:02x}", kind_pos)
        module.exports.append(Export(name, EXTERNAL_KINDS[kind_code], r.u32()))


def _parse_start(r: Reader, module: ParsedModule) -> None:
    module.start = r.u32()


# Opcodes allowed in constant expressions, with how their immediates are read.
_CONST_OPS = {
    0x41: "s32",
    0x42: "s64",
    0x43: "f32",
    0x44: "f64",
    0x23: "u32",
    0xD2: "u32",
    0xD0: "ref",
    0x6A: "",
    0x6B: "",
    0x6C: "",
    0x7C: "",
    0x7D: "",
    0x7E: "",
}


def _const_expr(r: Reader) -> None:
    """Skip a constant expression (up to and including its ``end``)."""
    while True:
        start = r.pos
        op = r.u8()
        if op == 0x0B:
            return
        if op == 0xFD:  # v128.const
            if r.u32() != 12:
                raise r.fail("unsupported SIMD instruction in a constant expression", start)
            r.skip(16)
            continue
        immediate = _CONST_OPS.get(op)
        if immediate is None:
            raise r.fail(f"opcode 0x{op:02x} is not allowed in a constant expression", start)
        if immediate == "s32":
            r.s32()
        elif immediate == "s64":
            r.s64()
        elif immediate == "f32":
            r.skip(4)
        elif immediate == "f64":
            r.skip(8)
        elif immediate == "u32":
            r.u32()
        elif immediate == "ref":
            _reftype(r)


def _parse_elements(r: Reader, module: ParsedModule) -> None:
    n = r.count()
    for _ in range(n):
        start = r.pos
        flags = r.u32()
        if flags > 7:
            raise r.fail(f"invalid element segment flags {flags}", start)
        if flags & 1 == 0:  # active: (table index) offset expression
            if flags & 2:
                r.u32()
            _const_expr(r)
        uses_exprs = bool(flags & 4)
        if flags & 3:  # explicit element kind / reference type
            if uses_exprs:
                _reftype(r)
            elif r.u8() != 0:
                raise r.fail("element kind must be 0 (funcref)", r.pos - 1)
        for _ in range(r.count()):
            if uses_exprs:
                _const_expr(r)
            else:
                r.u32()
    module.elements = n


def _parse_data_count(r: Reader, module: ParsedModule) -> None:
    module.data_count = r.u32()


def _parse_code(r: Reader, module: ParsedModule) -> None:
    n = r.count()
    for _ in range(n):
        size = r.u32()
        body = r.sub(size)
        local_total = 0
        for _ in range(body.count(2)):
            count_pos = body.pos
            local_total += body.u32()
            if local_total > 0xFFFF_FFFF:
                raise body.fail("too many locals", count_pos)
            _valtype(body)
        if body.at_end() or body.data[body.end - 1] != 0x0B:
            raise body.fail("function body does not end with the end opcode", body.end)
    module.code_bodies = n


def _parse_data(r: Reader, module: ParsedModule) -> None:
    n = r.count()
    for _ in range(n):
        start = r.pos
        flags = r.u32()
        if flags == 0:
            _const_expr(r)
        elif flags == 2:
            r.u32()
            _const_expr(r)
        elif flags != 1:
            raise r.fail(f"invalid data segment flags {flags}", start)
        r.skip(r.u32())
    module.data_segments = n


_SECTION_PARSERS = {
    1: _parse_types,
    2: _parse_imports,
    3: _parse_functions,
    4: _parse_tables,
    5: _parse_memories,
    13: _parse_tags,
    6: _parse_globals,
    7: _parse_exports,
    8: _parse_start,
    9: _parse_elements,
    12: _parse_data_count,
    10: _parse_code,
    11: _parse_data,
}


def _parse_custom(r: Reader, module: ParsedModule, offset: int, size: int) -> None:
    name = r.name()
    module.sections.append(Section(0, name, offset, size))
    module.custom_sections.append(name)
    try:
        if name == "name":
            _parse_name_section(r, module)
        elif name == "producers":
            _parse_producers(r, module)
    except WasmFormatError as exc:
        # Engines ignore malformed custom sections; so do we, but say so.
        module.warnings.append(f"ignored malformed {name!r} custom section: {exc.message}")


def _parse_name_section(r: Reader, module: ParsedModule) -> None:
    while not r.at_end():
        sub_id = r.u8()
        sub = r.sub(r.u32())
        if sub_id == 0:
            module.module_name = sub.name()
        elif sub_id == 1:
            names: dict[int, str] = {}
            for _ in range(sub.count(2)):
                index = sub.u32()
                names[index] = sub.name()
            module.function_names = names


def _parse_producers(r: Reader, module: ParsedModule) -> None:
    producers: dict[str, list[tuple[str, str]]] = {}
    for _ in range(r.count(2)):
        field_name = r.name()
        values = producers.setdefault(field_name, [])
        for _ in range(r.count(2)):
            values.append((r.name(), r.name()))
    if not r.at_end():
        raise r.fail("producers section has trailing bytes")
    module.producers = producers
