<?xml version="1.0" encoding="UTF-8"?>
<!-- Copy a MARCXML record, blanking leader/09: what a MARC-8 OPAC declares in the ISO 2709 it sends. -->
<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:marc="http://www.loc.gov/MARC21/slim" version="1.0">
  <xsl:template match="@*|node()">
    <xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy>
  </xsl:template>
  <xsl:template match="marc:leader">
    <xsl:copy><xsl:value-of select="concat(substring(., 1, 9), ' ', substring(., 11))"/></xsl:copy>
  </xsl:template>
</xsl:stylesheet>
