import NIOSSL

extension GatewayConfiguration {
    /// The server TLS configuration for a certificate chain and its private key, both PEM files;
    /// it accepts TLS 1.2 and 1.3 only.
    /// - Throws: ``GatewayConfigurationError`` naming `tls_cert` or `tls_key` when a file cannot be
    ///   read or holds no certificate or key.
    public static func serverTLS(certificateChainFile: String, privateKeyFile: String) throws(GatewayConfigurationError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile) } catch {
            throw GatewayConfigurationError(key: "tls_cert", "cannot read a PEM certificate from \(certificateChainFile)")
        }
        guard !chain.isEmpty else { throw GatewayConfigurationError(key: "tls_cert", "\(certificateChainFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem) } catch {
            throw GatewayConfigurationError(key: "tls_key", "cannot read a PEM private key from \(privateKeyFile)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}
