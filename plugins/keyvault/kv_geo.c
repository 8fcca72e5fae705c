/* Azure geographies: a Key Vault backup restores only into a vault of the
 * same subscription and the same geography (Microsoft's Key Vault backup
 * documentation). Regions by geography as Azure lists them; a region not
 * listed here is unknown, and the rule is then left to the service. */
#include <string.h>
#include <strings.h>

#include "kv.h"

static const char *const geographies[][12] = {
    {"Europe", "westeurope", "northeurope"},
    {"United Kingdom", "uksouth", "ukwest"},
    {"France", "francecentral", "francesouth"},
    {"Germany", "germanywestcentral", "germanynorth"},
    {"Switzerland", "switzerlandnorth", "switzerlandwest"},
    {"Norway", "norwayeast", "norwaywest"},
    {"Sweden", "swedencentral", "swedensouth"},
    {"Poland", "polandcentral"},
    {"Italy", "italynorth"},
    {"Spain", "spaincentral"},
    {"United States", "eastus", "eastus2", "centralus", "northcentralus", "southcentralus",
     "westcentralus", "westus", "westus2", "westus3"},
    {"Canada", "canadacentral", "canadaeast"},
    {"Brazil", "brazilsouth", "brazilsoutheast"},
    {"Mexico", "mexicocentral"},
    {"Asia Pacific", "eastasia", "southeastasia"},
    {"Australia", "australiaeast", "australiasoutheast", "australiacentral", "australiacentral2"},
    {"New Zealand", "newzealandnorth"},
    {"Japan", "japaneast", "japanwest"},
    {"Korea", "koreacentral", "koreasouth"},
    {"India", "centralindia", "southindia", "westindia", "jioindiawest", "jioindiacentral"},
    {"UAE", "uaenorth", "uaecentral"},
    {"Qatar", "qatarcentral"},
    {"Israel", "israelcentral"},
    {"South Africa", "southafricanorth", "southafricawest"},
    {"US Government", "usgovvirginia", "usgovarizona", "usgovtexas", "usdodeast", "usdodcentral"},
    {"China", "chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2", "chinanorth3"},
};

const char *kv_geography(const char *region)
{
    if (!region)
        return NULL;
    /* "West Europe" and "westeurope" alike. */
    char r[64];
    size_t n = 0;
    for (const char *p = region; *p && n + 1 < sizeof r; p++)
        if (*p != ' ')
            r[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    r[n] = '\0';
    for (size_t g = 0; g < sizeof geographies / sizeof geographies[0]; g++)
        for (size_t i = 1; i < 12 && geographies[g][i]; i++)
            if (strcmp(geographies[g][i], r) == 0)
                return geographies[g][0];
    return NULL;
}
