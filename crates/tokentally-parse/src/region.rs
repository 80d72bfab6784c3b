//! Azure region names. APIM writes a region's display name (`East US`, from
//! `context.Deployment.Region` and the LLM log's `Region`/`location`), while the
//! deployment and price tables, and the capture proxy, use the programmatic id
//! (`eastus`). Every record's region goes through [`region_id`], so the usage
//! dataset holds ids only.

/// Display names of Azure's public regions (`az account list-locations`:
/// `displayName` → `name`), including those with restricted access.
const REGIONS: &[(&str, &str)] = &[
    ("Australia Central", "australiacentral"),
    ("Australia Central 2", "australiacentral2"),
    ("Australia East", "australiaeast"),
    ("Australia Southeast", "australiasoutheast"),
    ("Austria East", "austriaeast"),
    ("Belgium Central", "belgiumcentral"),
    ("Brazil South", "brazilsouth"),
    ("Brazil Southeast", "brazilsoutheast"),
    ("Canada Central", "canadacentral"),
    ("Canada East", "canadaeast"),
    ("Central India", "centralindia"),
    ("Central US", "centralus"),
    ("Central US EUAP", "centraluseuap"),
    ("Chile Central", "chilecentral"),
    ("Denmark East", "denmarkeast"),
    ("East Asia", "eastasia"),
    ("East US", "eastus"),
    ("East US 2", "eastus2"),
    ("East US 2 EUAP", "eastus2euap"),
    ("France Central", "francecentral"),
    ("France South", "francesouth"),
    ("Germany North", "germanynorth"),
    ("Germany West Central", "germanywestcentral"),
    ("Indonesia Central", "indonesiacentral"),
    ("Israel Central", "israelcentral"),
    ("Italy North", "italynorth"),
    ("Japan East", "japaneast"),
    ("Japan West", "japanwest"),
    ("Jio India Central", "jioindiacentral"),
    ("Jio India West", "jioindiawest"),
    ("Korea Central", "koreacentral"),
    ("Korea South", "koreasouth"),
    ("Malaysia West", "malaysiawest"),
    ("Mexico Central", "mexicocentral"),
    ("New Zealand North", "newzealandnorth"),
    ("North Central US", "northcentralus"),
    ("North Europe", "northeurope"),
    ("Norway East", "norwayeast"),
    ("Norway West", "norwaywest"),
    ("Poland Central", "polandcentral"),
    ("Qatar Central", "qatarcentral"),
    ("South Africa North", "southafricanorth"),
    ("South Africa West", "southafricawest"),
    ("South Central US", "southcentralus"),
    ("South India", "southindia"),
    ("Southeast Asia", "southeastasia"),
    ("Spain Central", "spaincentral"),
    ("Sweden Central", "swedencentral"),
    ("Sweden South", "swedensouth"),
    ("Switzerland North", "switzerlandnorth"),
    ("Switzerland West", "switzerlandwest"),
    ("UAE Central", "uaecentral"),
    ("UAE North", "uaenorth"),
    ("UK South", "uksouth"),
    ("UK West", "ukwest"),
    ("West Central US", "westcentralus"),
    ("West Europe", "westeurope"),
    ("West India", "westindia"),
    ("West US", "westus"),
    ("West US 2", "westus2"),
    ("West US 3", "westus3"),
];

/// The region id of `name`: a display name (`East US`), the portal's regional
/// display name (`(US) East US`) or an id (`eastus`), in any case. A name the
/// table does not know is lower-cased with its spaces removed, which is how
/// Azure derives ids from display names. `None` for a blank name.
pub fn region_id(name: &str) -> Option<String> {
    let name = name.trim();
    // `(Europe) West Europe`: the geography prefix is not part of the name.
    let name = match name.strip_prefix('(').and_then(|rest| rest.split_once(')')) {
        Some((_, rest)) => rest.trim(),
        None => name,
    };
    if name.is_empty() {
        return None;
    }
    if let Some((_, id)) = REGIONS
        .iter()
        .find(|(display, id)| display.eq_ignore_ascii_case(name) || id.eq_ignore_ascii_case(name))
    {
        return Some((*id).to_owned());
    }
    Some(
        name.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_and_ids_become_ids() {
        for (name, id) in [
            ("East US", "eastus"),
            ("east us 2", "eastus2"),
            ("Sweden Central", "swedencentral"),
            ("(Europe) West Europe", "westeurope"),
            ("  UK South ", "uksouth"),
            ("swedencentral", "swedencentral"),
            ("EASTUS2", "eastus2"),
            ("UAE North", "uaenorth"),
        ] {
            assert_eq!(region_id(name).as_deref(), Some(id), "{name}");
        }
    }

    #[test]
    fn unknown_names_are_lower_cased_without_spaces() {
        assert_eq!(region_id("Mars North 1").as_deref(), Some("marsnorth1"));
        assert_eq!(region_id("   "), None);
        assert_eq!(region_id("()"), None);
    }

    #[test]
    fn every_table_id_is_its_display_name_compacted() {
        // Azure's ids are the display names lower-cased without spaces: a typo in
        // the table would break that.
        for (display, id) in REGIONS {
            let compact: String = display
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_lowercase)
                .collect();
            assert_eq!(&compact, id, "{display}");
        }
    }
}
