//! Object identifiers that libgssapi-sys does not export.

use libgssapi_sys as sys;
use std::ffi::c_void;

/// DER body of 1.2.840.113554.1.2.2, the Kerberos V5 mechanism.
pub const KRB5_MECH: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
/// DER body of 1.3.6.1.5.5.2, SPNEGO.
const SPNEGO_MECH: &[u8] = b"\x2b\x06\x01\x05\x05\x02";
/// DER body of 1.2.840.113554.1.2.2.1, the krb5 principal name type.
const KRB5_PRINCIPAL_NAME: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01";

/// A `gss_OID_desc` pointing at static bytes. GSSAPI takes OIDs through
/// non-const pointers but never writes through them. Transparent, so that
/// an array of them is an array of descriptors.
#[repr(transparent)]
struct StaticOid(sys::gss_OID_desc);
// SAFETY: the descriptor and the bytes it points at are immutable statics.
unsafe impl Sync for StaticOid {}

struct StaticOidSet(sys::gss_OID_set_desc);
// SAFETY: as for StaticOid.
unsafe impl Sync for StaticOidSet {}

static KRB5_MECH_DESC: StaticOid = StaticOid(sys::gss_OID_desc {
    length: KRB5_MECH.len() as u32,
    elements: KRB5_MECH.as_ptr() as *mut c_void,
});

static SPNEGO_MECH_DESC: StaticOid = StaticOid(sys::gss_OID_desc {
    length: SPNEGO_MECH.len() as u32,
    elements: SPNEGO_MECH.as_ptr() as *mut c_void,
});

/// krb5 then SPNEGO, contiguous for an OID set.
static KRB5_AND_SPNEGO_DESCS: [StaticOid; 2] = [
    StaticOid(sys::gss_OID_desc {
        length: KRB5_MECH.len() as u32,
        elements: KRB5_MECH.as_ptr() as *mut c_void,
    }),
    StaticOid(sys::gss_OID_desc {
        length: SPNEGO_MECH.len() as u32,
        elements: SPNEGO_MECH.as_ptr() as *mut c_void,
    }),
];

static KRB5_PRINCIPAL_NAME_DESC: StaticOid = StaticOid(sys::gss_OID_desc {
    length: KRB5_PRINCIPAL_NAME.len() as u32,
    elements: KRB5_PRINCIPAL_NAME.as_ptr() as *mut c_void,
});

static KRB5_ONLY: StaticOidSet = StaticOidSet(sys::gss_OID_set_desc {
    count: 1,
    elements: &KRB5_MECH_DESC.0 as *const sys::gss_OID_desc as *mut sys::gss_OID_desc,
});

static KRB5_AND_SPNEGO: StaticOidSet = StaticOidSet(sys::gss_OID_set_desc {
    count: 2,
    elements: &KRB5_AND_SPNEGO_DESCS as *const [StaticOid; 2] as *mut sys::gss_OID_desc,
});

pub fn krb5_mech() -> sys::gss_OID {
    &KRB5_MECH_DESC.0 as *const sys::gss_OID_desc as sys::gss_OID
}

pub fn krb5_principal_name() -> sys::gss_OID {
    &KRB5_PRINCIPAL_NAME_DESC.0 as *const sys::gss_OID_desc as sys::gss_OID
}

/// The mechanism set {krb5}: restricting credentials to it keeps the
/// mechglue from selecting SPNEGO or any other mechanism.
pub fn krb5_only() -> sys::gss_OID_set {
    &KRB5_ONLY.0 as *const sys::gss_OID_set_desc as sys::gss_OID_set
}

/// SPNEGO, for the test initiator (acceptors unwrap SPNEGO themselves).
pub fn spnego_mech() -> sys::gss_OID {
    &SPNEGO_MECH_DESC.0 as *const sys::gss_OID_desc as sys::gss_OID
}

/// The mechanism set {krb5, SPNEGO}, for SPNEGO initiator credentials.
pub fn krb5_and_spnego() -> sys::gss_OID_set {
    &KRB5_AND_SPNEGO.0 as *const sys::gss_OID_set_desc as sys::gss_OID_set
}

/// Whether `oid` (as returned by GSSAPI) is the krb5 mechanism.
pub fn is_krb5(oid: sys::gss_OID) -> bool {
    if oid.is_null() {
        return false;
    }
    // SAFETY: GSSAPI returned a valid descriptor of `length` bytes.
    let bytes = unsafe {
        let desc = &*oid;
        std::slice::from_raw_parts(desc.elements as *const u8, desc.length as usize)
    };
    bytes == KRB5_MECH
}
