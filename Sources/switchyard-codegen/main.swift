import Foundation
import SwitchyardCodegen

// The tool the SwitchyardContractsPlugin build-tool plugin runs: it generates typed payloads from
// contract files with nothing but the code generator and the JSON Schema library, so that a
// service's build does not compile the whole switchyard CLI.
//
//     switchyard-codegen --language swift|python|typescript --output FILE (--contracts DIR | CONTRACT.json...)

let usage = "usage: switchyard-codegen --language swift|python|typescript --output FILE (--contracts DIR | CONTRACT.json...)"

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("switchyard-codegen: \(message)\n".utf8))
    exit(1)
}

var language: CodegenLanguage?
var output: String?
var directories: [String] = []
var files: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--language":
        guard let value = arguments.popFirst(), let parsed = CodegenLanguage(rawValue: value) else { fail(usage) }
        language = parsed
    case "--output":
        guard let value = arguments.popFirst() else { fail(usage) }
        output = value
    case "--contracts":
        guard let value = arguments.popFirst() else { fail(usage) }
        directories.append(value)
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        if argument.hasPrefix("-") { fail("unknown option \(argument)\n\(usage)") }
        files.append(argument)
    }
}
guard let language, let output, !(directories.isEmpty && files.isEmpty) else { fail(usage) }

do {
    var contracts: [CodegenContract] = []
    for directory in directories { contracts += try CodegenContract.load(directory: directory) }
    for file in files { contracts.append(try CodegenContract.load(file: file, name: URL(fileURLWithPath: file).lastPathComponent)) }
    let (generated, _) = try Codegen.generate(language, contracts: contracts)
    let data = Data(generated.contents.utf8)
    // Leave an unchanged file alone, so that the build does not recompile what depends on it.
    if FileManager.default.contents(atPath: output) != data {
        try data.write(to: URL(fileURLWithPath: output), options: .atomic)
    }
} catch {
    fail("\(error)")
}
